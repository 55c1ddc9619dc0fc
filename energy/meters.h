/*
 * meters.h - opening a meter: each back end's opener (RAPL, the perf power
 * PMU, INA219 through hwmon or raw I2C) and the registry that tries them in
 * turn (registry.c). The back ends include this for their own prototypes and
 * meter.h for the interface; nothing in meter.c calls them.
 */
#ifndef TB_METERS_H
#define TB_METERS_H

#include "meter.h"

/* RAPL through powercap under sysfs_root (NULL: TERNBENCH_SYSFS_ROOT or /sys). */
int tb_meter_open_rapl(const char *sysfs_root, tb_meter **out, tb_error *err);

/* The perf power PMU. The syscall is injectable for tests (NULL: the real one). */
typedef struct tb_perf_io {
    int (*open)(void *ctx, uint32_t type, uint64_t config, int cpu);  /* fd or -errno */
    int (*read)(void *ctx, int fd, uint64_t *count);                  /* 0 or -errno */
    void (*close)(void *ctx, int fd);
    void *ctx;
} tb_perf_io;
int tb_meter_open_perf_power(const char *sysfs_root, const tb_perf_io *io, tb_meter **out,
                             tb_error *err);

/* INA219 behind the hwmon ina2xx driver; device NULL: the first one found. */
int tb_meter_open_ina219_hwmon(const char *sysfs_root, const char *device, tb_meter **out,
                               tb_error *err);

/* Register access to an INA219 on a bus; injectable for tests. */
typedef struct tb_i2c_io {
    int (*read_reg)(void *ctx, uint8_t reg, uint16_t *value);   /* 0 or -errno */
    int (*write_reg)(void *ctx, uint8_t reg, uint16_t value);   /* 0 or -errno */
    void (*close)(void *ctx);
    void *ctx;
} tb_i2c_io;

typedef struct tb_ina219_config {
    double shunt_ohms;        /* e.g. 0.1 on common breakout boards */
    double max_current_a;     /* the largest current expected, sets the LSB */
    double bus_volts_max;     /* 16 or 32: the bus voltage range */
    int adc_samples;          /* averaging: 1, 2, 4, ... 128 */
} tb_ina219_config;

/* The calibration the datasheet's procedure gives for cfg. */
typedef struct tb_ina219_calibration {
    double current_lsb_a;
    double power_lsb_w;
    uint16_t calibration;     /* register 0x05 */
    uint16_t config;          /* register 0x00 */
    double conversion_s;      /* time for one bus + shunt conversion */
} tb_ina219_calibration;
int tb_ina219_calibrate(const tb_ina219_config *cfg, tb_ina219_calibration *cal, tb_error *err);

/* Opens /dev/i2c-BUS (under dev_root, NULL: /dev) at address 0x40-0x4F, or
 * uses io when not NULL. Programs configuration and calibration. */
int tb_meter_open_ina219_i2c(const char *dev_root, int bus, int address,
                             const tb_ina219_config *cfg, const tb_i2c_io *io,
                             tb_meter **out, tb_error *err);

/* Opens the first source that works in the order of preference:
 * rapl, perf-power, ina219 (hwmon). Raw I2C is never opened automatically:
 * writing configuration to an unknown bus device is not safe. On failure err
 * explains every source's problem. */
int tb_meter_open_auto(const char *sysfs_root, tb_meter **out, tb_error *err);


/* What a user chose: a meter by name ("rapl", "perf-power", "ina219",
 * "ina219-i2c"; NULL: the first that works) and, for raw I2C, where the chip
 * is and how it is wired. */
typedef struct tb_meter_choice {
    const char *name;
    const char *sysfs_root;    /* NULL: TERNBENCH_SYSFS_ROOT or /sys */
    long i2c_bus, i2c_address;
    tb_ina219_config ina;
} tb_meter_choice;

/* The INA219 wiring most breakout boards have: 0.1 ohm shunt, 3.2 A, 32 V,
 * no averaging; address 0x40 on bus 1. */
tb_meter_choice tb_meter_choice_default(void);

/* Opens the meter c names (the first that works when it names none). */
int tb_meter_open_chosen(const tb_meter_choice *c, tb_meter **out, tb_error *err);

#endif
