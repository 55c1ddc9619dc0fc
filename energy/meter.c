/* meter.c - the parts of the meter interface every back end shares. */
#include "meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
