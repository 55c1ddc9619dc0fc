/* tokenizer.c - byte-level BPE and SentencePiece-style tokenizers; see tokenizer.h. */
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_tables.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };
typedef enum { MODEL_BPE, MODEL_SPM } vocab_model;

typedef struct token {
    uint32_t off, len;          /* text in t->text */
    int type;
    float score;
} token;

/* (left, right) -> rank and the merged token */
typedef struct merge_slot {
    uint64_t key;               /* left << 32 | right; UINT64_MAX when empty */
    int32_t rank, merged;
} merge_slot;

struct tb_tokenizer {
    vocab_model model;
    tb_pre pre;
    int n;
    token *tok;
    char *text;
    int32_t *index;             /* open addressing: text -> id; -1 empty */
    size_t index_mask;
    merge_slot *merges;
    size_t merge_mask;
    int *special;               /* control and user-defined ids, longest text first */
    int n_special;
    bool special_first[256];    /* bytes a special token starts with */
    int byte_token[256];        /* byte-level char (BPE) or <0xXX> (SPM) of each byte; -1 */
    uint16_t byte_cp[256];      /* BPE: the code point each byte is written as */
    int16_t cp_byte[324];       /* and back; -1 for code points that are no byte */
    int bos, eos, eot, eom, unk;
    bool add_bos, add_space_prefix;
};

/* ---- Unicode ---- */

static bool in_table(const tb_uni_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define TABLE(t) t, sizeof t / sizeof t[0]
enum { C_L = 1, C_N = 2, C_S = 4, C_P = 8 };

static int classify(uint32_t cp)
{
    if (cp < 128) { /* the common case without a search */
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z')
            return C_L;
        if (cp >= '0' && cp <= '9')
            return C_N;
        if (cp == ' ' || (cp >= 9 && cp <= 13))
            return C_S;
        return in_table(TABLE(tb_uni_punct), cp) ? C_P : 0;
    }
    return (in_table(TABLE(tb_uni_letter), cp) ? C_L : 0) |
           (in_table(TABLE(tb_uni_number), cp) ? C_N : 0) |
           (in_table(TABLE(tb_uni_space), cp) ? C_S : 0) |
           (in_table(TABLE(tb_uni_punct), cp) ? C_P : 0);
}

/* One code point of s (n bytes left); invalid UTF-8 gives one byte as U+FFFD. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    unsigned c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (size_t)len > n) {
        *used = 1;
        return 0xFFFD;
    }
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *used = 1;
            return 0xFFFD;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    *used = (size_t)len;
    return cp;
}

static int utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes for U+0100 onwards, in byte order. Tabled both ways. */
static void byte_alphabet(tb_tokenizer *t)
{
    for (int i = 0; i < 324; i++)
        t->cp_byte[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        t->byte_cp[b] = (uint16_t)(printable ? b : 256 + n++);
        t->cp_byte[t->byte_cp[b]] = (int16_t)b;
    }
}

/* ---- the pre-tokenizers: each matcher returns the length (in code points)
 * of its match at position i of a code point array, or 0 ---- */

typedef struct cps {
    const uint32_t *cp;
    const uint8_t *cls;
    size_t n;
} cps;

static bool is_nl(uint32_t c) { return c == '\r' || c == '\n'; }

static size_t contraction(const cps *s, size_t i)
{
    if (s->cp[i] != '\'' || i + 1 >= s->n)
        return 0;
    uint32_t a = s->cp[i + 1] | 32, b = i + 2 < s->n ? s->cp[i + 2] | 32 : 0;
    if (s->cp[i + 1] >= 128)
        return 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return i + 2 < s->n && s->cp[i + 2] < 128 ? 3 : 0;
    return 0;
}

static size_t run(const cps *s, size_t i, int cls)
{
    size_t j = i;
    while (j < s->n && (s->cls[j] & cls))
        j++;
    return j - i;
}

/* \s+(?!\S): the whitespace run, less its last character when a non-space follows */
static size_t space_not_before_text(const cps *s, size_t i)
{
    size_t n = run(s, i, C_S);
    if (n && i + n < s->n)
        n--;
    return n;
}

static size_t other_run(const cps *s, size_t i) /* [^\s\p{L}\p{N}]+ */
{
    size_t j = i;
    while (j < s->n && !(s->cls[j] & (C_S | C_L | C_N)))
        j++;
    return j - i;
}

/* LLaMA-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t match_llama3(const cps *s, size_t i)
{
    size_t n;
    if ((n = contraction(s, i)))
        return n;
    const uint8_t c = s->cls[i];
    if (!(c & (C_L | C_N)) && !is_nl(s->cp[i]) && i + 1 < s->n && (s->cls[i + 1] & C_L))
        return 1 + run(s, i + 1, C_L);
    if (c & C_L)
        return run(s, i, C_L);
    if (c & C_N)
        return (n = run(s, i, C_N)) > 3 ? 3 : n;
    size_t sp = s->cp[i] == ' ' && i + 1 < s->n && !(s->cls[i + 1] & (C_S | C_L | C_N));
    if ((n = other_run(s, i + sp))) {
        size_t j = i + sp + n;
        while (j < s->n && is_nl(s->cp[j]))
            j++;
        return j - i;
    }
    /* c is whitespace here */
    size_t ws = run(s, i, C_S), last_nl = 0;
    for (size_t j = i; j < i + ws; j++)
        if (is_nl(s->cp[j]))
            last_nl = j - i + 1;
    if (last_nl)
        return last_nl;
    return (n = space_not_before_text(s, i)) ? n : ws;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (case-sensitive contractions); final_space: whether the last \s+ is there. */
static size_t match_gpt2_common(const cps *s, size_t i, bool final_space)
{
    size_t n;
    if (s->cp[i] == '\'' && (n = contraction(s, i))) {
        uint32_t a = s->cp[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd' || a == 'r' || a == 'v' || a == 'l')
            if (n == 2 || s->cp[i + 2] == (a == 'l' ? 'l' : 'e'))
                return n;
    }
    size_t sp = s->cp[i] == ' ' && i + 1 < s->n;
    uint8_t c = s->cls[i + sp];
    if (c & C_L)
        return sp + run(s, i + sp, C_L);
    if (c & C_N)
        return sp + run(s, i + sp, C_N);
    if ((n = other_run(s, i + sp)))
        return sp + n;
    if (!(s->cls[i] & C_S))
        return 0;
    if ((n = space_not_before_text(s, i)))
        return n;
    return final_space ? run(s, i, C_S) : 0;
}

static size_t match_gpt2(const cps *s, size_t i) { return match_gpt2_common(s, i, true); }
static size_t match_default_words(const cps *s, size_t i) { return match_gpt2_common(s, i, false); }

static bool default_punct(uint32_t cp, uint8_t cls) /* [\p{P}\$\+<=>\^~\|] */
{
    return (cls & C_P) || cp == '$' || cp == '+' || cp == '<' || cp == '=' || cp == '>' ||
           cp == '^' || cp == '~' || cp == '|';
}

static size_t match_punct_run(const cps *s, size_t i)
{
    size_t j = i;
    while (j < s->n && default_punct(s->cp[j], s->cls[j]))
        j++;
    return j - i;
}

static size_t match_digits(const cps *s, size_t i) { return run(s, i, C_N); }

static size_t match_ascii3(const cps *s, size_t i)
{
    for (size_t j = 0; j < 3; j++)
        if (i + j >= s->n || s->cp[i + j] < '0' || s->cp[i + j] > '9')
            return 0;
    return 3;
}

typedef size_t (*matcher)(const cps *s, size_t i);

/* ---- hash tables ---- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static int find_token(const tb_tokenizer *t, const char *p, size_t n)
{
    for (size_t s = hash_bytes(p, n) & t->index_mask;; s = (s + 1) & t->index_mask) {
        int id = t->index[s];
        if (id < 0)
            return -1;
        if (t->tok[id].len == n && !memcmp(t->text + t->tok[id].off, p, n))
            return id;
    }
}

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
}

static const merge_slot *find_merge(const tb_tokenizer *t, int left, int right)
{
    if (!t->merges)
        return NULL;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t s = mix(key) & t->merge_mask;; s = (s + 1) & t->merge_mask) {
        if (t->merges[s].key == key)
            return &t->merges[s];
        if (t->merges[s].key == UINT64_MAX)
            return NULL;
    }
}

static size_t pow2_above(size_t n)
{
    size_t p = 16;
    while (p < n * 2)
        p *= 2;
    return p;
}

/* ---- BPE over symbols, with a min-heap of candidate merges ---- */

typedef struct sym {
    int id;
    int prev, next;             /* -1 at the ends */
    size_t off, len;            /* bytes of the source text (SPM) */
} sym;

typedef struct cand {
    double key;                 /* rank (BPE) or -score (SPM): smaller merges first */
    int left;                   /* symbol index; ties go to the leftmost */
    int left_id, right_id;
    int merged;
} cand;

typedef struct heap {
    cand *v;
    size_t n, cap;
} heap;

static bool cand_less(const cand *a, const cand *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static int heap_push(heap *h, cand c)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        cand *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i && cand_less(&c, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = c;
    return 0;
}

static cand heap_pop(heap *h)
{
    cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && cand_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!cand_less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

/* The merge candidate for symbols a and a's next, if the vocabulary has one. */
static int consider(const tb_tokenizer *t, const sym *s, int a, const char *src, heap *h)
{
    int b = a >= 0 ? s[a].next : -1;
    if (b < 0 || (t->model == MODEL_BPE && (s[a].id < 0 || s[b].id < 0)))
        return 0;
    cand c = {0, a, s[a].id, s[b].id, -1};
    if (t->model == MODEL_BPE) {
        const merge_slot *m = find_merge(t, s[a].id, s[b].id);
        if (!m)
            return 0;
        c.key = m->rank;
        c.merged = m->merged;
    } else {
        c.merged = find_token(t, src + s[a].off, s[a].len + s[b].len);
        if (c.merged < 0)
            return 0;
        c.key = -(double)t->tok[c.merged].score;
    }
    return heap_push(h, c);
}

static void merge_all(const tb_tokenizer *t, sym *s, int n, const char *src, heap *h, int *fail)
{
    h->n = 0;
    for (int i = 0; i + 1 < n; i++)
        *fail |= consider(t, s, i, src, h);
    while (h->n) {
        cand c = heap_pop(h);
        int a = c.left, b = s[a].next;
        if (b < 0 || s[a].id != c.left_id || s[b].id != c.right_id || s[a].len == 0)
            continue; /* stale: one side merged since */
        s[a].id = c.merged;
        s[a].len += s[b].len;
        s[b].len = 0;
        s[b].id = -1;
        s[a].next = s[b].next;
        if (s[b].next >= 0)
            s[s[b].next].prev = a;
        *fail |= consider(t, s, s[a].prev, src, h);
        *fail |= consider(t, s, a, src, h);
    }
}

/* ---- output buffer ---- */

typedef struct ids {
    int *v;
    int n, cap;
    bool oom;
    int missing;                /* 0x100 | a byte no token stands for */
} ids;

static void push(ids *o, int id)
{
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 64;
        int *v = realloc(o->v, (size_t)cap * sizeof *v);
        if (!v) {
            o->oom = true;
            return;
        }
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = id;
}

typedef struct scratch {
    sym *s;
    size_t cap;
    heap h;
    char *buf;
    size_t buf_cap;
} scratch;

static bool grow(scratch *w, size_t syms, size_t bytes)
{
    if (syms > w->cap) {
        sym *s = realloc(w->s, syms * sizeof *s);
        if (!s)
            return false;
        w->s = s;
        w->cap = syms;
    }
    if (bytes > w->buf_cap) {
        char *b = realloc(w->buf, bytes);
        if (!b)
            return false;
        w->buf = b;
        w->buf_cap = bytes;
    }
    return true;
}

/* One pre-tokenized word (raw bytes) through byte-level BPE. */
static void bpe_word(const tb_tokenizer *t, const char *p, size_t n, scratch *w, ids *o)
{
    if (!grow(w, n, n * 2)) {
        o->oom = true;
        return;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)utf8_put(t->byte_cp[(unsigned char)p[i]], w->buf + len);
    int whole = t->pre == TB_PRE_LLAMA3 ? find_token(t, w->buf, len) : -1;
    if (whole >= 0) {
        push(o, whole);
        return;
    }
    sym *s = w->s;
    for (size_t i = 0; i < n; i++)
        s[i] = (sym){t->byte_token[(unsigned char)p[i]], (int)i - 1, i + 1 < n ? (int)i + 1 : -1,
                     i, 1};
    int fail = 0;
    merge_all(t, s, (int)n, NULL, &w->h, &fail);
    if (fail)
        o->oom = true;
    for (int i = 0; i >= 0 && n; i = s[i].next) {
        if (s[i].id < 0 && t->unk < 0)
            o->missing = (unsigned char)p[s[i].off] | 0x100;
        push(o, s[i].id >= 0 ? s[i].id : t->unk);
    }
}

int tb_pretokenize(tb_pre pre, const char *text, size_t len, size_t **out, size_t *n_out)
{
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    uint8_t *cls = malloc(len + 1);
    size_t *at = malloc((len + 1) * sizeof *at); /* byte offset of each code point */
    size_t *piece = malloc((len + 1) * 2 * sizeof *piece);
    size_t *next = malloc((len + 1) * 2 * sizeof *next);
    int rc = cp && cls && at && piece && next ? TB_OK : TB_ENOMEM;
    size_t n = 0;
    for (size_t i = 0, used; rc == TB_OK && i < len; i += used, n++) {
        at[n] = i;
        cp[n] = utf8_next((const unsigned char *)text + i, len - i, &used);
        cls[n] = (uint8_t)classify(cp[n]);
    }
    if (rc == TB_OK)
        at[n] = len;
    /* pieces as code point bounds: start with the whole text and let each
     * pass split every piece into its matches and the text between them */
    matcher llama3[] = {match_llama3}, gpt2[] = {match_gpt2},
            deflt[] = {match_punct_run, match_default_words, match_digits, match_ascii3};
    matcher *passes = pre == TB_PRE_LLAMA3 ? llama3 : pre == TB_PRE_GPT2 ? gpt2 : deflt;
    int n_passes = pre == TB_PRE_DEFAULT ? 4 : 1;
    size_t np = 0;
    if (rc == TB_OK && n) {
        piece[np++] = 0;
        piece[np++] = n;
    }
    for (int pass = 0; rc == TB_OK && pass < n_passes; pass++) {
        size_t nn = 0;
        for (size_t k = 0; k < np; k += 2) {
            cps s = {cp + piece[k], cls + piece[k], piece[k + 1] - piece[k]};
            size_t gap = 0;
            for (size_t i = 0; i < s.n;) {
                size_t m = passes[pass](&s, i);
                if (!m) {
                    i++;
                    continue;
                }
                if (gap < i) {
                    next[nn++] = piece[k] + gap;
                    next[nn++] = piece[k] + i;
                }
                next[nn++] = piece[k] + i;
                next[nn++] = piece[k] + i + m;
                i += m;
                gap = i;
            }
            if (gap < s.n) {
                next[nn++] = piece[k] + gap;
                next[nn++] = piece[k + 1];
            }
        }
        memcpy(piece, next, nn * sizeof *piece);
        np = nn;
    }
    for (size_t k = 0; rc == TB_OK && k < np; k++)
        piece[k] = at[piece[k]]; /* code points to bytes */
    free(cp);
    free(cls);
    free(at);
    free(next);
    if (rc != TB_OK) {
        free(piece);
        return rc;
    }
    *out = piece;
    *n_out = np / 2;
    return TB_OK;
}

/* Pre-tokenizes one fragment (no special tokens in it) and encodes it. */
static int encode_bpe(const tb_tokenizer *t, const char *text, size_t len, scratch *w, ids *o)
{
    size_t *piece, n;
    if (tb_pretokenize(t->pre, text, len, &piece, &n) != TB_OK)
        return -1;
    for (size_t k = 0; k < n && !o->oom; k++)
        bpe_word(t, text + piece[2 * k], piece[2 * k + 1] - piece[2 * k], w, o);
    free(piece);
    return 0;
}

/* SentencePiece-style: spaces become U+2581, a leading one is added, code
 * points merge by score, and what the vocabulary lacks falls back to bytes. */
static int encode_spm(const tb_tokenizer *t, const char *text, size_t len, bool first, scratch *w,
                      ids *o)
{
    size_t cap = (len + 1) * 3 + 3;
    if (!grow(w, cap, cap))
        return -1;
    size_t n = 0;
    if (first && t->add_space_prefix)
        n += (size_t)utf8_put(0x2581, w->buf);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            n += (size_t)utf8_put(0x2581, w->buf + n);
        else
            w->buf[n++] = text[i];
    }
    sym *s = w->s;
    int ns = 0;
    for (size_t i = 0, used; i < n; i += used, ns++) {
        utf8_next((const unsigned char *)w->buf + i, n - i, &used);
        s[ns] = (sym){find_token(t, w->buf + i, used), ns - 1, -1, i, used};
        if (ns)
            s[ns - 1].next = ns;
    }
    int fail = 0;
    merge_all(t, s, ns, w->buf, &w->h, &fail);
    for (int i = 0; i >= 0 && ns; i = s[i].next) {
        if (s[i].id >= 0) {
            push(o, s[i].id);
            continue;
        }
        for (size_t b = 0; b < s[i].len; b++) {
            int id = t->byte_token[(unsigned char)w->buf[s[i].off + b]];
            if (id < 0 && t->unk < 0)
                o->missing = (unsigned char)w->buf[s[i].off + b] | 0x100;
            push(o, id >= 0 ? id : t->unk);
        }
    }
    return fail;
}

int tb_tokenizer_encode(const tb_tokenizer *t, const char *text, size_t len, bool add_bos,
                        bool parse_special, int **out, int *n_out, tb_error *err)
{
    ids o = {0};
    scratch w = {0};
    if (add_bos && t->bos >= 0)
        push(&o, t->bos);
    int rc = 0;
    bool first = true;
    size_t start = 0;
    for (size_t i = 0; rc == 0 && i <= len; i++) {
        int sp = -1;
        if (i < len && parse_special && t->special_first[(unsigned char)text[i]])
            for (int k = 0; k < t->n_special; k++) {
                const token *s = &t->tok[t->special[k]];
                if (s->len <= len - i && !memcmp(text + i, t->text + s->off, s->len)) {
                    sp = t->special[k];
                    break;
                }
            }
        if (sp < 0 && i < len)
            continue;
        if (i > start)
            rc = t->model == MODEL_BPE ? encode_bpe(t, text + start, i - start, &w, &o)
                                       : encode_spm(t, text + start, i - start, first, &w, &o);
        first = false;
        if (sp >= 0) {
            push(&o, sp);
            i += t->tok[sp].len - 1;
            start = i + 1;
        }
    }
    free(w.s);
    free(w.buf);
    free(w.h.v);
    if (rc != 0 || o.oom || o.missing) {
        free(o.v);
        if (o.missing)
            return tb_error_set(err, TB_EINVAL, "the vocabulary has no token for byte 0x%02X and "
                                "no unknown token", o.missing & 0xff);
        return tb_error_set(err, TB_ENOMEM, "out of memory tokenizing %zu bytes", len);
    }
    *out = o.v;
    *n_out = o.n;
    return TB_OK;
}

int tb_tokenizer_piece(const tb_tokenizer *t, int id, bool special, char *buf, size_t cap)
{
    if (id < 0 || id >= t->n)
        return -1;
    const token *k = &t->tok[id];
    const char *p = t->text + k->off;
    char tmp[8];
    size_t n = 0;
#define OUT(c)                          \
    do {                                \
        if (n < cap)                    \
            buf[n] = (char)(c);         \
        n++;                            \
    } while (0)
    if (k->type == TT_CONTROL || k->type == TT_UNUSED) {
        for (uint32_t i = 0; special && i < k->len; i++)
            OUT(p[i]);
    } else if (k->type == TT_BYTE && k->len == 6 && !memcmp(p, "<0x", 3)) {
        OUT(strtol(p + 3, NULL, 16));
    } else if (t->model == MODEL_BPE && k->type != TT_USER) {
        for (size_t i = 0, used; i < k->len; i += used) {
            uint32_t cp = utf8_next((const unsigned char *)p + i, k->len - i, &used);
            int b = cp < 324 ? t->cp_byte[cp] : -1;
            OUT(b >= 0 ? b : '?');
        }
    } else {
        for (size_t i = 0, used; i < k->len; i += used) {
            uint32_t c = utf8_next((const unsigned char *)p + i, k->len - i, &used);
            int m = c == 0x2581 ? (tmp[0] = ' ', 1) : (memcpy(tmp, p + i, used), (int)used);
            for (int j = 0; j < m; j++)
                OUT(tmp[j]);
        }
    }
#undef OUT
    return (int)n;
}

int tb_tokenizer_vocab_size(const tb_tokenizer *t) { return t->n; }
int tb_tokenizer_bos(const tb_tokenizer *t) { return t->bos; }
bool tb_tokenizer_add_bos(const tb_tokenizer *t) { return t->add_bos; }

bool tb_tokenizer_is_eog(const tb_tokenizer *t, int id)
{
    return id >= 0 && (id == t->eos || id == t->eot || id == t->eom);
}

const char *tb_tokenizer_model_name(const tb_tokenizer *t)
{
    if (t->model == MODEL_SPM)
        return "llama (SentencePiece-style BPE)";
    return t->pre == TB_PRE_LLAMA3    ? "gpt2 (byte-level BPE), LLaMA-3 pre-tokenizer"
           : t->pre == TB_PRE_DEFAULT ? "gpt2 (byte-level BPE), llama.cpp's default pre-tokenizer"
                                      : "gpt2 (byte-level BPE), GPT-2 pre-tokenizer";
}

void tb_tokenizer_free(tb_tokenizer *t)
{
    if (!t)
        return;
    free(t->tok);
    free(t->text);
    free(t->index);
    free(t->merges);
    free(t->special);
    free(t);
}

/* ---- loading ---- */

static int opt_id(const tb_gguf *g, const char *key, int n, int *out, tb_error *err)
{
    *out = -1;
    if (!tb_gguf_find(g, key))
        return TB_OK;
    uint32_t v;
    int rc = tb_gguf_get_u32(g, key, &v, err);
    if (rc != TB_OK)
        return rc;
    if (v >= (uint32_t)n)
        return tb_error_set(err, TB_EINVAL, "%s: %s is %u, outside the vocabulary of %d tokens",
                            g->path, key, v, n);
    *out = (int)v;
    return TB_OK;
}

static const tb_gguf_kv *array_kv(const tb_gguf *g, const char *key, tb_gguf_type type,
                                  uint64_t count, bool required, tb_error *err, int *rc)
{
    const tb_gguf_kv *kv = tb_gguf_find(g, key);
    *rc = TB_OK;
    if (!kv) {
        if (required)
            *rc = tb_error_set(err, TB_EINVAL, "%s: %s is missing: the file has no vocabulary "
                               "(use `gen --tokenizer` or a model converted with one)", g->path, key);
        return NULL;
    }
    if (kv->type != TB_GGUF_ARRAY || kv->arr_type != type || (count && kv->arr_count != count)) {
        *rc = tb_error_set(err, TB_EINVAL, "%s: %s must be an array of %llu elements of GGUF "
                           "type %d", g->path, key, (unsigned long long)count, (int)type);
        return NULL;
    }
    return kv;
}

static int build_index(tb_tokenizer *t)
{
    t->index_mask = pow2_above((size_t)t->n) - 1;
    t->index = malloc((t->index_mask + 1) * sizeof *t->index);
    if (!t->index)
        return -1;
    memset(t->index, 0xff, (t->index_mask + 1) * sizeof *t->index);
    for (int id = 0; id < t->n; id++) {
        const token *k = &t->tok[id];
        if (find_token(t, t->text + k->off, k->len) >= 0)
            continue; /* a duplicate text keeps its first id */
        size_t s = hash_bytes(t->text + k->off, k->len) & t->index_mask;
        while (t->index[s] >= 0)
            s = (s + 1) & t->index_mask;
        t->index[s] = id;
    }
    return 0;
}

static int load_merges(tb_tokenizer *t, const tb_gguf *g, tb_error *err)
{
    int rc;
    const tb_gguf_kv *kv = array_kv(g, "tokenizer.ggml.merges", TB_GGUF_STRING, 0, true, err, &rc);
    if (!kv)
        return rc;
    t->merge_mask = pow2_above((size_t)kv->arr_count) - 1;
    t->merges = malloc((t->merge_mask + 1) * sizeof *t->merges);
    if (!t->merges)
        return tb_error_set(err, TB_ENOMEM, "out of memory for %llu merges",
                            (unsigned long long)kv->arr_count);
    memset(t->merges, 0xff, (t->merge_mask + 1) * sizeof *t->merges);
    const uint8_t *cur = kv->arr_data;
    char both[1024];
    for (uint64_t r = 0; r < kv->arr_count; r++) {
        tb_gguf_str m = tb_gguf_array_str(kv, &cur);
        const char *space = m.len < sizeof both ? memchr(m.ptr, ' ', m.len) : NULL;
        if (!space)
            return tb_error_set(err, TB_EINVAL, "%s: tokenizer.ggml.merges[%llu] is not \"LEFT "
                                "RIGHT\"", g->path, (unsigned long long)r);
        size_t ll = (size_t)(space - m.ptr), rl = m.len - ll - 1;
        int left = find_token(t, m.ptr, ll), right = find_token(t, space + 1, rl);
        memcpy(both, m.ptr, ll);
        memcpy(both + ll, space + 1, rl);
        int merged = find_token(t, both, ll + rl);
        if (left < 0 || right < 0 || merged < 0 || find_merge(t, left, right))
            continue; /* a merge the vocabulary cannot express, or a repeat: never applies */
        uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
        size_t s = mix(key) & t->merge_mask;
        while (t->merges[s].key != UINT64_MAX)
            s = (s + 1) & t->merge_mask;
        t->merges[s] = (merge_slot){key, (int32_t)r, merged};
    }
    return TB_OK;
}

typedef struct by_len { uint32_t len; int id; } by_len;

static int cmp_longer(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    return x->len != y->len ? (x->len > y->len ? -1 : 1) : x->id - y->id;
}

/* The special tokens, longest first (so `<|eot_id|>` wins over a prefix of it). */
static int sort_special(tb_tokenizer *t)
{
    by_len *v = malloc((size_t)t->n_special * sizeof *v + 1);
    if (!v)
        return -1;
    for (int i = 0; i < t->n_special; i++)
        v[i] = (by_len){t->tok[t->special[i]].len, t->special[i]};
    qsort(v, (size_t)t->n_special, sizeof *v, cmp_longer);
    for (int i = 0; i < t->n_special; i++) {
        t->special[i] = v[i].id;
        t->special_first[(unsigned char)t->text[t->tok[v[i].id].off]] = true;
    }
    free(v);
    return 0;
}

static int load(tb_tokenizer *t, const tb_gguf *g, const char *pre_override, tb_error *err)
{
    char model[32], pre[64] = "";
    int rc = tb_gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model, err);
    if (rc != TB_OK)
        return tb_error_prefix(err, "no vocabulary");
    if (!strcmp(model, "gpt2"))
        t->model = MODEL_BPE;
    else if (!strcmp(model, "llama"))
        t->model = MODEL_SPM;
    else
        return tb_error_set(err, TB_EINVAL, "%s: tokenizer.ggml.model '%s' is not supported "
                            "(supported: gpt2, llama)", g->path, model);
    if (pre_override)
        snprintf(pre, sizeof pre, "%s", pre_override);
    else if (tb_gguf_find(g, "tokenizer.ggml.pre") &&
             (rc = tb_gguf_get_str(g, "tokenizer.ggml.pre", pre, sizeof pre, err)) != TB_OK)
        return rc;
    if (!pre[0] || !strcmp(pre, "llama3") || !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama-v3"))
        t->pre = TB_PRE_LLAMA3;
    else if (!strcmp(pre, "default"))
        t->pre = TB_PRE_DEFAULT;
    else if (!strcmp(pre, "gpt2") || !strcmp(pre, "gpt-2"))
        t->pre = TB_PRE_GPT2;
    else
        return tb_error_set(err, TB_EINVAL, "%s: pre-tokenizer '%s' is not supported (supported: "
                            "llama3 (llama-bpe), default, gpt2)", pre_override ? "--pre" : g->path,
                            pre);

    const tb_gguf_kv *toks = array_kv(g, "tokenizer.ggml.tokens", TB_GGUF_STRING, 0, true, err, &rc);
    if (!toks)
        return rc;
    if (toks->arr_count == 0 || toks->arr_count > (1u << 24))
        return tb_error_set(err, TB_EINVAL, "%s: tokenizer.ggml.tokens has %llu tokens", g->path,
                            (unsigned long long)toks->arr_count);
    t->n = (int)toks->arr_count;
    const tb_gguf_kv *types =
        array_kv(g, "tokenizer.ggml.token_type", TB_GGUF_INT32, toks->arr_count, false, err, &rc);
    if (rc != TB_OK)
        return rc;
    const tb_gguf_kv *scores =
        array_kv(g, "tokenizer.ggml.scores", TB_GGUF_FLOAT32, toks->arr_count, false, err, &rc);
    if (rc != TB_OK)
        return rc;
    t->tok = calloc((size_t)t->n, sizeof *t->tok);
    t->text = malloc(toks->arr_bytes + 1);
    t->special = malloc((size_t)t->n * sizeof *t->special);
    if (!t->tok || !t->text || !t->special)
        return tb_error_set(err, TB_ENOMEM, "out of memory for %d tokens", t->n);
    const uint8_t *cur = toks->arr_data;
    uint32_t off = 0;
    for (int id = 0; id < t->n; id++) {
        tb_gguf_str s = tb_gguf_array_str(toks, &cur);
        memcpy(t->text + off, s.ptr, s.len);
        int32_t type = TT_NORMAL;
        float score = 0;
        if (types)
            memcpy(&type, types->arr_data + 4 * (size_t)id, 4);
        if (scores)
            memcpy(&score, scores->arr_data + 4 * (size_t)id, 4);
        t->tok[id] = (token){off, (uint32_t)s.len, type, score};
        off += (uint32_t)s.len;
        if ((type == TT_CONTROL || type == TT_USER) && s.len)
            t->special[t->n_special++] = id;
    }
    if (sort_special(t) || build_index(t))
        return tb_error_set(err, TB_ENOMEM, "out of memory for the token index");
    char name[16];
    byte_alphabet(t);
    for (int b = 0; b < 256; b++) {
        int len = t->model == MODEL_BPE ? utf8_put(t->byte_cp[b], name)
                                        : snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_token[b] = find_token(t, name, (size_t)len);
    }
    if (t->model == MODEL_BPE && (rc = load_merges(t, g, err)) != TB_OK)
        return rc;
    if ((rc = opt_id(g, "tokenizer.ggml.bos_token_id", t->n, &t->bos, err)) ||
        (rc = opt_id(g, "tokenizer.ggml.eos_token_id", t->n, &t->eos, err)) ||
        (rc = opt_id(g, "tokenizer.ggml.eot_token_id", t->n, &t->eot, err)) ||
        (rc = opt_id(g, "tokenizer.ggml.eom_token_id", t->n, &t->eom, err)) ||
        (rc = opt_id(g, "tokenizer.ggml.unknown_token_id", t->n, &t->unk, err)))
        return rc;
    if (t->eot < 0)
        t->eot = find_token(t, "<|eot_id|>", 10);
    if (t->eom < 0)
        t->eom = find_token(t, "<|eom_id|>", 10);
    const tb_gguf_kv *ab = tb_gguf_find(g, "tokenizer.ggml.add_bos_token");
    t->add_bos = ab && ab->type == TB_GGUF_BOOL ? ab->v.u64 != 0 : true;
    const tb_gguf_kv *sp = tb_gguf_find(g, "tokenizer.ggml.add_space_prefix");
    t->add_space_prefix = sp && sp->type == TB_GGUF_BOOL ? sp->v.u64 != 0 : true;
    return TB_OK;
}

int tb_tokenizer_load(const tb_gguf *g, const char *pre_override, tb_tokenizer **out,
                      tb_error *err)
{
    tb_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    int rc = load(t, g, pre_override, err);
    if (rc != TB_OK) {
        tb_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return TB_OK;
}
