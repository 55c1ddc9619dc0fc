/* estimate.c - see estimate.h. */
#include "estimate.h"

tb_estimate_model tb_estimate_default(tb_estimate_kind kind, int cpus)
{
    tb_estimate_model m = {kind, 10.0, 10.0, 200.0, cpus > 0 ? cpus : 1};
    return m;
}

const char *tb_estimate_label(tb_estimate_kind kind)
{
    return kind == TB_ESTIMATE_BITNET_PROXY ? "estimate:bitnet-proxy" : "estimate";
}

double tb_estimate_joules(const tb_estimate_model *m, double wall_s, double cpu_s, double *idle_j)
{
    if (m->kind == TB_ESTIMATE_BITNET_PROXY) {
        double util = wall_s > 0 ? cpu_s / (wall_s * m->cpus) : 0;
        if (idle_j)
            *idle_j = 0; /* the proxy has no idle term */
        return m->proxy_w * util * wall_s;
    }
    if (idle_j)
        *idle_j = m->idle_w * wall_s;
    return m->idle_w * wall_s + m->core_w * cpu_s;
}
