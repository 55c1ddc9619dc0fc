/*
 * results.h - result documents as the readers see them: `report`, `compare`,
 * `gate` and `history` read a ternbench.result/1 or /2 document through this
 * one index, never by walking the JSON themselves.
 *
 * What the index adds to the JSON:
 *   - every run knows its machine. A merged document holds runs of several
 *     machines with the same models and tests; a run is looked up by
 *     (machine, model, test, batch, threads), never by the first match.
 *   - every comparison's figures are computed here from its two runs'
 *     samples, paired by round (by index in /1 documents, which had no
 *     rounds), with the intervals of stats.h. Intervals stored in a document
 *     are for other tools; these readers recompute them, so that a /1
 *     document (whose stored intervals were bootstrap intervals of three
 *     samples, covering 75 %) is read with honest ones.
 *   - what the machine did to each run: tainted (redone until the retries
 *     ran out) and the largest share of a repetition's time it lost.
 */
#ifndef TB_RESULTS_H
#define TB_RESULTS_H

#include <jansson.h>
#include <stdbool.h>

#include "stats.h"
#include "tb_error.h"

enum { TB_RES_MAX_SAMPLES = 256 };

/* o[k] as a string; "" when it is missing or not a string. */
const char *tb_json_str(json_t *o, const char *k);

/* Copies up to cap numbers of the array arr into x (other elements are
 * skipped) and returns how many. */
int tb_json_numbers(json_t *arr, double *x, int cap);

typedef struct tb_rmachine {
    json_t *json;              /* the machine object */
    char key[320];             /* what tells machines apart (tb_machine_key) */
    char label[160];           /* for people: the label, else host and CPU */
    const char *arch, *cpu, *isa, *host;
} tb_rmachine;

/* A machine's identity across documents: its label when it has one (fleet
 * runs give each host one), else host name, CPU model, logical CPUs and the
 * kernels' ISA. */
void tb_machine_key(json_t *machine, char *key, size_t cap);

typedef struct tb_rrun {
    json_t *json;
    int machine;               /* index into machines */
    const char *model, *format, *embd, *test, *peer; /* peer: "" for ternbench's own */
    char size[96];             /* the preset it is ("size"), else from its name */
    int threads, batch, tokens;
    bool batched;              /* a prompt in batches: compute-bound, no roofline */
    double params;             /* 0 when unknown */
    int n;                     /* kept repetitions */
    double tps[TB_RES_MAX_SAMPLES];
    double jpt[TB_RES_MAX_SAMPLES]; /* joules per token, when measured (has_energy) */
    double jpt_net[TB_RES_MAX_SAMPLES]; /* net of idle power (has_net) */
    double cpu_s[TB_RES_MAX_SAMPLES];   /* CPU seconds of the process (has_cpu) */
    int round[TB_RES_MAX_SAMPLES];  /* the round of each (its index in /1 documents) */
    bool has_energy, has_net, has_cpu;
    const char *meter;         /* the energy meter, "" without one */
    bool tainted;              /* the retries ran out: no verdict */
    double lost_share;         /* the largest share of a repetition's time lost, any try */
    char lost_kind[32];        /* "steal", "runqueue_wait" or "" */
    tb_summary tps_summary;
} tb_rrun;

typedef struct tb_rcomp {
    json_t *json;
    int machine;
    const tb_rrun *a, *b;      /* ternary, baseline */
    int npairs;
    double ratio[TB_RES_MAX_SAMPLES]; /* per pair: tokens/s of a over b */
    tb_ratio speedup;
    bool has_energy, has_net, has_proxy;
    tb_ratio energy;           /* J/token of a over b: reduction = 1 - estimate */
    tb_ratio net;              /* the same net of idle power */
    tb_ratio proxy;            /* bitnet.cpp's proxy (200 W x utilisation x time): the ratio
                                * of CPU seconds per token */
    double energy_r[TB_RES_MAX_SAMPLES], proxy_r[TB_RES_MAX_SAMPLES]; /* per pair */
    bool tainted;              /* either run tainted */
    double lost_share;
} tb_rcomp;

/* A model's quality (bench --quality): its perplexity over the text (or
 * seeded ids), and against its f16 twin where one ran. */
typedef struct tb_rquality {
    json_t *json;
    int machine;
    const char *model, *format, *embd;
    char size[96];
    const char *unavailable;   /* why it was not scored; "" when it was */
    bool seeded;               /* scored seeded ids, not a text */
    int threads, scored;
    double ppl, ppl_err;
    const char *base;          /* the f16 twin it was compared with (itself: it is the twin); "" */
    bool has_kl;
    double ppl_ratio, ppl_ratio_err, kld, kld_err, same_top;
} tb_rquality;

typedef struct tb_results {
    json_t *doc;               /* borrowed */
    int version;               /* 1 or 2 */
    tb_rmachine *machines;
    int nmachines;
    tb_rrun *runs;
    int nruns;
    tb_rcomp *comps;
    int ncomps;
    tb_rquality *quality;      /* bench --quality; none without it */
    int nquality;
} tb_results;

/* Checks that doc is a ternbench.result/1 or /2 document with what the
 * readers need; the error names the path inside it, e.g.
 * "runs[3].tokens_per_s.median: expected a number". */
int tb_result_validate(json_t *doc, tb_error *err);

/* Validates and indexes doc (which must outlive r). */
int tb_results_read(json_t *doc, tb_results *r, tb_error *err);
void tb_results_free(tb_results *r);

/* The run of machine m with this model, test, batch (-1: any) and threads. */
const tb_rrun *tb_results_run(const tb_results *r, int m, const char *model, const char *test,
                              int batch, int threads);

/* The paired speedup of run a over run b (tokens/s, repetitions paired by
 * round) into *out; returns the pairs. */
int tb_results_speedup(const tb_rrun *a, const tb_rrun *b, tb_ratio *out);

/* The machine of r whose key is key, or -1. */
int tb_results_machine(const tb_results *r, const char *key);

/* The preset of a dummy model ("dummy:700M:i2_s:q8_0" -> "700M"), or the
 * file's name. */
void tb_model_size(const char *model, char *out, size_t cap);

#endif
