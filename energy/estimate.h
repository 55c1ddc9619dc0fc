/*
 * estimate.h - energy estimates, labelled as such and never mixed with
 * measurements.
 *
 * Two models, both from CPU time (what the kernel accounts to the measured
 * process) and wall time:
 *   estimate        E = idle_w * wall + core_w * cpu_seconds
 *                   a transparent linear model; both parameters are named in
 *                   every result and can be set on the command line.
 *   bitnet-proxy    E = 200 W * utilisation * wall, utilisation =
 *                   cpu_seconds / (wall * online CPUs): the proxy
 *                   bitnet.cpp's power script uses (CPU utilisation times a
 *                   fixed 200 W), so its figures can be compared like for like.
 */
#ifndef TB_ESTIMATE_H
#define TB_ESTIMATE_H

typedef enum tb_estimate_kind { TB_ESTIMATE_LINEAR, TB_ESTIMATE_BITNET_PROXY } tb_estimate_kind;

typedef struct tb_estimate_model {
    tb_estimate_kind kind;
    double idle_w;        /* linear: platform power while idle */
    double core_w;        /* linear: extra power per fully busy CPU */
    double proxy_w;       /* bitnet-proxy: the fixed power (200 W) */
    int cpus;             /* bitnet-proxy: online CPUs */
} tb_estimate_model;

/* Defaults: linear idle 10 W, core 10 W; proxy 200 W over cpus CPUs. */
tb_estimate_model tb_estimate_default(tb_estimate_kind kind, int cpus);

const char *tb_estimate_label(tb_estimate_kind kind); /* "estimate" or "estimate:bitnet-proxy" */

/* Gross joules for a run; *idle_j (may be NULL) receives the part the model
 * attributes to idle power, so net = gross - idle_j. */
double tb_estimate_joules(const tb_estimate_model *m, double wall_s, double cpu_s, double *idle_j);

#endif
