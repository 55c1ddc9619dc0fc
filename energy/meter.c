/* meter.c - the parts of the meter interface every back end shares. */
#include "meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources.h"

static const char *const kind_names[TB_METER_KIND_COUNT] = {"rapl", "perf-power", "ina219",
                                                            "ina219-i2c"};

const char *tb_meter_kind_name(tb_meter_kind k)
{
    return (unsigned)k < TB_METER_KIND_COUNT ? kind_names[k] : "?";
}

int tb_meter_kind_parse(const char *s, tb_meter_kind *out)
{
    for (int i = 0; i < TB_METER_KIND_COUNT; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (tb_meter_kind)i;
            return TB_OK;
        }
    return TB_EINVAL;
}

tb_meter *tb_meter_new(tb_meter_kind kind, const tb_meter_ops *ops, void *impl)
{
    tb_meter *m = calloc(1, sizeof *m);
    if (m) {
        m->kind = kind;
        m->ops = ops;
        m->impl = impl;
    }
    return m;
}

int tb_meter_add_domain(tb_meter *m, const char *name, bool in_total)
{
    if (m->ndomains >= TB_METER_MAX_DOMAINS)
        return TB_EINVAL;
    tb_meter_domain *d = &m->domain[m->ndomains++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->in_total = in_total;
    return TB_OK;
}

void tb_meter_close(tb_meter *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->close)
        m->ops->close(m);
    free(m);
}

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
