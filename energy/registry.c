/* registry.c - opening the meter a user chose, or the first that works; see meters.h. */
#include "meters.h"

#include <stdio.h>
#include <string.h>

int tb_meter_open_auto(const char *sysfs_root, tb_meter **out, tb_error *err)
{
    tb_error e1, e2, e3;
    if (tb_meter_open_rapl(sysfs_root, out, &e1) == TB_OK)
        return TB_OK;
    if (tb_meter_open_perf_power(sysfs_root, NULL, out, &e2) == TB_OK)
        return TB_OK;
    if (tb_meter_open_ina219_hwmon(sysfs_root, NULL, out, &e3) == TB_OK)
        return TB_OK;
    int code = (e1.code == TB_EPERM || e2.code == TB_EPERM || e3.code == TB_EPERM) ? TB_EPERM
                                                                                : TB_ENOTSUP;
    return tb_error_set(err, code,
                        "no energy meter on this machine.\n  rapl: %s\n  perf-power: %s\n"
                        "  ina219: %s\n  ina219-i2c: never chosen automatically; "
                        "use --meter ina219-i2c --i2c-bus N on a board with a wired INA219",
                        e1.text, e2.text, e3.text);
}

tb_meter_choice tb_meter_choice_default(void)
{
    tb_meter_choice c = {.i2c_bus = 1, .i2c_address = 0x40,
                         .ina = {.shunt_ohms = 0.1, .max_current_a = 3.2, .bus_volts_max = 32,
                                 .adc_samples = 1}};
    return c;
}

int tb_meter_open_chosen(const tb_meter_choice *c, tb_meter **out, tb_error *err)
{
    if (!c->name)
        return tb_meter_open_auto(c->sysfs_root, out, err);
    tb_meter_kind k;
    if (tb_meter_kind_parse(c->name, &k) != TB_OK)
        return tb_error_set(err, TB_EINVAL, "--meter %s: unknown meter; use rapl, perf-power, "
                            "ina219 or ina219-i2c", c->name);
    switch (k) {
    case TB_METER_RAPL: return tb_meter_open_rapl(c->sysfs_root, out, err);
    case TB_METER_PERF_POWER: return tb_meter_open_perf_power(c->sysfs_root, NULL, out, err);
    case TB_METER_INA219: return tb_meter_open_ina219_hwmon(c->sysfs_root, NULL, out, err);
    case TB_METER_INA219_I2C:
        return tb_meter_open_ina219_i2c(NULL, (int)c->i2c_bus, (int)c->i2c_address, &c->ina, NULL,
                                        out, err);
    default: return tb_error_set(err, TB_EINVAL, "--meter %s: not a meter", c->name);
    }
}
