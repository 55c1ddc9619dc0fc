/*
 * ina219.c - the TI INA219 current/power monitor, two ways.
 *
 * hwmon: the kernel's ina2xx driver publishes power1_input (microwatts), or
 * in1_input (bus millivolts) and curr1_input (milliamps).
 *
 * raw I2C (/dev/i2c-N): we program the chip ourselves. Registers are 16-bit
 * big-endian: 0x00 configuration, 0x01 shunt voltage (10 uV/LSB, signed),
 * 0x02 bus voltage (bits 15..3 at 4 mV/LSB; bit 1 CNVR "conversion ready",
 * bit 0 OVF "math overflow"), 0x03 power, 0x04 current, 0x05 calibration.
 * Calibration follows the datasheet: current_LSB = I_max / 2^15,
 * CAL = trunc(0.04096 / (current_LSB * R_shunt)), power_LSB = 20 * current_LSB.
 * Reading the power register clears CNVR, so a sample with CNVR clear holds
 * no new conversion; one with OVF set is unusable and is reported, not used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "meters.h"
#include "sources.h"
#include "tb_file.h"

enum {
    REG_CONFIG = 0x00, REG_SHUNT = 0x01, REG_BUS = 0x02,
    REG_POWER = 0x03, REG_CURRENT = 0x04, REG_CALIBRATION = 0x05,
    BUS_CNVR = 1u << 1, BUS_OVF = 1u << 0,
    CONFIG_RESET = 1u << 15,
};

/* ---- hwmon ------------------------------------------------------------ */

typedef struct hwmon_impl {
    char power_path[600];   /* "" when absent */
    char volt_path[600];
    char curr_path[600];
} hwmon_impl;

static int hwmon_sample(tb_meter *m, double now_s, tb_meter_sample *out, tb_error *err)
{
    (void)now_s;
    hwmon_impl *h = m->impl;
    uint64_t a, b;
    int rc;
    if (h->power_path[0]) {
        if ((rc = tb_file_read_u64(h->power_path, &a, err)) != TB_OK)
            return rc;
        out->value[0] = (double)a * 1e-6;
    } else {
        if ((rc = tb_file_read_u64(h->volt_path, &a, err)) != TB_OK ||
            (rc = tb_file_read_u64(h->curr_path, &b, err)) != TB_OK)
            return rc;
        out->value[0] = (double)a * (double)b * 1e-6; /* mV * mA */
    }
    out->valid[0] = true;
    out->flags[0] = 0;
    return TB_OK;
}

static void free_impl(tb_meter *m)
{
    free(m->impl);
}

static const tb_meter_ops hwmon_ops = {hwmon_sample, free_impl};

static bool is_ina(const char *chip)
{
    return strncmp(chip, "ina2", 4) == 0;
}

int tb_meter_open_ina219_hwmon(const char *sysfs_root, const char *device, tb_meter **out,
                               tb_error *err)
{
    const char *root = sysfs_root ? sysfs_root : tb_sysfs_root();
    char base[512], chosen[64] = "", chip[64] = "", path[700];
    snprintf(base, sizeof base, "%s/class/hwmon", root);
    if (device) {
        snprintf(chosen, sizeof chosen, "%s", device);
        snprintf(path, sizeof path, "%s/%s/name", base, device);
        if (tb_file_read_text(path, chip, sizeof chip, NULL) < 0 || !is_ina(chip))
            return tb_error_set(err, TB_EINVAL, "%s/%s is not an ina2xx hwmon device", base, device);
    } else {
        DIR *d = opendir(base);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (strncmp(e->d_name, "hwmon", 5) != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s/name", base, e->d_name);
            char name[64];
            if (tb_file_read_text(path, name, sizeof name, NULL) >= 0 && is_ina(name) &&
                (!chosen[0] || strcmp(e->d_name, chosen) < 0)) {
                snprintf(chosen, sizeof chosen, "%s", e->d_name);
                snprintf(chip, sizeof chip, "%s", name);
            }
        }
        if (d)
            closedir(d);
        if (!chosen[0])
            return tb_error_set(err, TB_ENOTSUP, "no hwmon device named ina2xx under %s (wire an "
                                "INA219 and bind the ina2xx driver: see the README)", base);
    }
    hwmon_impl *h = calloc(1, sizeof *h);
    tb_meter *m = h ? tb_meter_new(TB_METER_INA219, &hwmon_ops, h) : NULL;
    if (!m) {
        free(h);
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    }
    m->is_power = true;
    snprintf(m->source, sizeof m->source, "%s/%s (%s)", base, chosen, chip);
    snprintf(path, sizeof path, "%s/%s/power1_input", base, chosen);
    if (access(path, F_OK) == 0)
        snprintf(h->power_path, sizeof h->power_path, "%s", path);
    else {
        snprintf(h->volt_path, sizeof h->volt_path, "%s/%s/in1_input", base, chosen);
        snprintf(h->curr_path, sizeof h->curr_path, "%s/%s/curr1_input", base, chosen);
    }
    uint64_t ms = 0;
    snprintf(path, sizeof path, "%s/%s/update_interval", base, chosen);
    m->default_interval_s = tb_file_read_u64(path, &ms, NULL) == TB_OK && ms > 0 ? (double)ms * 1e-3
                                                                                 : 0.002;
    tb_meter_add_domain(m, "board", true);
    tb_meter_sample probe;
    int rc = hwmon_sample(m, 0, &probe, err);
    if (rc != TB_OK) {
        tb_meter_close(m);
        return rc == TB_EPERM ? tb_error_prefix(err, "INA219 (run as root or chmod o+r)")
                              : tb_error_prefix(err, "INA219");
    }
    *out = m;
    return TB_OK;
}

/* ---- raw I2C ------------------------------------------------------------ */

int tb_ina219_calibrate(const tb_ina219_config *cfg, tb_ina219_calibration *cal, tb_error *err)
{
    if (!(cfg->shunt_ohms > 0) || !(cfg->max_current_a > 0))
        return tb_error_set(err, TB_EINVAL, "INA219: --shunt-ohms and --max-current must be "
                            "positive (got %g ohm, %g A)", cfg->shunt_ohms, cfg->max_current_a);
    /* Programmable gain: the smallest shunt range that holds I_max * R. */
    double shunt_v = cfg->max_current_a * cfg->shunt_ohms;
    static const double range_v[4] = {0.04, 0.08, 0.16, 0.32};
    int pg = 0;
    while (pg < 4 && shunt_v > range_v[pg] * (1 + 1e-9)) /* 3.2 A * 0.1 ohm fits 0.32 V */
        pg++;
    if (pg == 4)
        return tb_error_set(err, TB_EINVAL, "INA219: %g A through %g ohm is %.3f V across the "
                            "shunt, beyond the chip's 0.32 V range: use a smaller shunt",
                            cfg->max_current_a, cfg->shunt_ohms, shunt_v);
    double lsb = cfg->max_current_a / 32768.0;
    double c = floor(0.04096 / (lsb * cfg->shunt_ohms));
    if (c > 0xfffe)
        return tb_error_set(err, TB_EINVAL, "INA219: calibration %.0f exceeds 16 bits: raise "
                            "--max-current or use a larger shunt", c);
    uint16_t calv = (uint16_t)c & 0xfffe; /* bit 0 is read-only */
    if (calv == 0)
        return tb_error_set(err, TB_EINVAL, "INA219: calibration rounds to 0: lower --max-current");
    int adc;
    switch (cfg->adc_samples) {
    case 0: case 1: adc = 0x3; break;
    case 2: adc = 0x9; break;
    case 4: adc = 0xa; break;
    case 8: adc = 0xb; break;
    case 16: adc = 0xc; break;
    case 32: adc = 0xd; break;
    case 64: adc = 0xe; break;
    case 128: adc = 0xf; break;
    default:
        return tb_error_set(err, TB_EINVAL, "INA219: ADC averaging %d is not one of "
                            "1, 2, 4, ..., 128", cfg->adc_samples);
    }
    bool brng32 = cfg->bus_volts_max == 0 || cfg->bus_volts_max > 16;
    cal->calibration = calv;
    cal->current_lsb_a = 0.04096 / ((double)calv * cfg->shunt_ohms);
    cal->power_lsb_w = 20.0 * cal->current_lsb_a;
    cal->config = (uint16_t)((brng32 ? 1u << 13 : 0) | (unsigned)pg << 11 | (unsigned)adc << 7 |
                             (unsigned)adc << 3 | 0x7u);
    int n = cfg->adc_samples > 1 ? cfg->adc_samples : 1;
    cal->conversion_s = 2.0 * 532e-6 * n; /* bus and shunt, 12-bit each */
    return TB_OK;
}

typedef struct i2c_impl {
    tb_i2c_io io;
    tb_ina219_calibration cal;
    int fd; /* the real transport's descriptor, -1 for an injected one */
} i2c_impl;

static int dev_read_reg(void *ctx, uint8_t reg, uint16_t *value)
{
    int fd = *(int *)ctx;
    uint8_t buf[2];
    if (write(fd, &reg, 1) != 1 || read(fd, buf, 2) != 2)
        return -errno;
    *value = (uint16_t)(buf[0] << 8 | buf[1]);
    return 0;
}

static int dev_write_reg(void *ctx, uint8_t reg, uint16_t value)
{
    int fd = *(int *)ctx;
    uint8_t buf[3] = {reg, (uint8_t)(value >> 8), (uint8_t)value};
    return write(fd, buf, 3) == 3 ? 0 : -errno;
}

static int i2c_sample(tb_meter *m, double now_s, tb_meter_sample *out, tb_error *err)
{
    (void)now_s;
    i2c_impl *c = m->impl;
    uint16_t bus, power;
    int rc = c->io.read_reg(c->io.ctx, REG_BUS, &bus);
    if (rc < 0)
        return tb_error_set(err, TB_EIO, "INA219: reading the bus voltage register: %s",
                            strerror(-rc));
    out->valid[0] = false;
    out->flags[0] = 0;
    if (bus & BUS_OVF) {
        out->flags[0] |= TB_SAMPLE_OVERFLOW;
        return TB_OK;
    }
    if (!(bus & BUS_CNVR)) {
        out->flags[0] |= TB_SAMPLE_NOT_READY;
        return TB_OK;
    }
    rc = c->io.read_reg(c->io.ctx, REG_POWER, &power); /* clears CNVR */
    if (rc < 0)
        return tb_error_set(err, TB_EIO, "INA219: reading the power register: %s", strerror(-rc));
    out->value[0] = power * c->cal.power_lsb_w;
    out->valid[0] = true;
    return TB_OK;
}

static void i2c_close(tb_meter *m)
{
    i2c_impl *c = m->impl;
    if (c->io.close)
        c->io.close(c->io.ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static const tb_meter_ops i2c_ops = {i2c_sample, i2c_close};

int tb_meter_open_ina219_i2c(const char *dev_root, int bus, int address,
                             const tb_ina219_config *cfg, const tb_i2c_io *io,
                             tb_meter **out, tb_error *err)
{
    if (address < 0x40 || address > 0x4f)
        return tb_error_set(err, TB_EINVAL, "INA219: address 0x%02x is outside 0x40-0x4F "
                            "(set by the A0/A1 pins; `i2cdetect -y %d` lists what answers)",
                            address, bus);
    i2c_impl *c = calloc(1, sizeof *c);
    if (!c)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    c->fd = -1;
    int rc = tb_ina219_calibrate(cfg, &c->cal, err);
    if (rc != TB_OK) {
        free(c);
        return rc;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/i2c-%d", dev_root ? dev_root : "/dev", bus);
    if (io) {
        c->io = *io;
    } else {
        c->fd = open(path, O_RDWR | O_CLOEXEC);
        if (c->fd < 0) {
            int e = errno;
            free(c);
            return tb_error_set(err, e == EACCES ? TB_EPERM : TB_ENOTSUP,
                                "INA219: cannot open %s: %s%s", path, strerror(e),
                                e == EACCES ? " (add the user to group i2c or run as root)"
                                            : " (enable I2C and load i2c-dev: see the README)");
        }
        if (ioctl(c->fd, I2C_SLAVE, (unsigned long)address) < 0) {
            int e = errno;
            close(c->fd);
            free(c);
            return tb_error_set(err, TB_EIO, "INA219: selecting address 0x%02x on %s: %s",
                                address, path, strerror(e));
        }
        c->io = (tb_i2c_io){dev_read_reg, dev_write_reg, NULL, &c->fd};
    }
    tb_meter *m = tb_meter_new(TB_METER_INA219_I2C, &i2c_ops, c);
    if (!m) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    }
    m->is_power = true;
    m->resolution_w = c->cal.power_lsb_w;
    m->default_interval_s = c->cal.conversion_s;
    snprintf(m->source, sizeof m->source, "%s address 0x%02x, shunt %g ohm, max %g A", path,
             address, cfg->shunt_ohms, cfg->max_current_a);
    tb_meter_add_domain(m, "board", true);

    uint16_t back = 0;
    if ((rc = c->io.write_reg(c->io.ctx, REG_CONFIG, CONFIG_RESET)) < 0 ||
        (rc = c->io.write_reg(c->io.ctx, REG_CONFIG, c->cal.config)) < 0 ||
        (rc = c->io.write_reg(c->io.ctx, REG_CALIBRATION, c->cal.calibration)) < 0 ||
        (rc = c->io.read_reg(c->io.ctx, REG_CALIBRATION, &back)) < 0) {
        tb_meter_close(m);
        return tb_error_set(err, TB_EIO, "INA219: no answer at 0x%02x on %s (%s): check the "
                            "wiring and `i2cdetect -y %d`", address, path, strerror(-rc), bus);
    }
    if (back != c->cal.calibration) {
        tb_meter_close(m);
        return tb_error_set(err, TB_EIO, "INA219 at 0x%02x on %s: calibration reads back 0x%04x, "
                            "wrote 0x%04x: is this device an INA219?", address, path, back,
                            c->cal.calibration);
    }
    *out = m;
    return TB_OK;
}
