/* metrics.c — a process-wide Prometheus registry: counters, gauges, histograms, and gauges
 * computed at scrape time.
 *
 * Metrics live in one array in declaration order (so /metrics output is stable), each with
 * its series in first-use order. A series is found by comparing its label values with a
 * linear scan: label sets here are small and bounded by design (never tokens or URLs), so a
 * hash table would cost more code than it saves. Histograms store per-bucket counts and make
 * them cumulative while rendering. A metric without labels gets its single series at
 * declaration, so it is rendered (as 0) before the first observation, as client_golang does.
 *
 * One recursive mutex guards everything; it is recursive so that a qs_gauge_fn callback,
 * which runs while the registry renders, may itself read a metric. Numbers are printed in the
 * shortest form that reads back exactly ("0.005", "60", "1e+21", "+Inf"). */
#include "shared/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/log.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM, M_GAUGE_FN } metric_kind;

static const char *const kind_names[] = {"counter", "gauge", "histogram", "gauge"};

typedef struct {
    char **values;                     /* one per label */
    double value;                      /* counter / gauge */
    unsigned long long *bucket_counts; /* histogram: per bucket, non-cumulative, +Inf last */
    double sum;
    unsigned long long count;
} series;

struct qs_metric {
    char *name, *help;
    metric_kind kind;
    char **labels;
    size_t nlabels;
    double *buckets; /* histogram upper bounds, without +Inf */
    size_t nbuckets;
    series *series;
    size_t nseries, cap;
    double (*fn)(void *ctx);
    void *ctx;
};

static pthread_mutex_t mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static qs_metric **metrics;
static size_t nmetrics, metrics_cap;

static const double default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,  5,     10,   30,  60};

/* ---- declaration ---- */

static bool valid_name(const char *s, bool colon_ok) {
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon_ok && c == ':')))
            return false;
    }
    return true;
}

/* Split "a,b" into names; 0 labels for NULL/"". */
static int split_labels(qs_metric *m, const char *labels) {
    if (!labels || !*labels)
        return QS_OK;
    char *copy = strdup(labels), *save = NULL;
    if (!copy)
        return QS_ENOMEM;
    int rc = QS_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == QS_OK;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && end[-1] == ' ')
            *--end = '\0';
        if (!valid_name(tok, false) || strcmp(tok, "le") == 0) {
            rc = QS_EINVAL;
            break;
        }
        char **p = realloc(m->labels, (m->nlabels + 1) * sizeof *p);
        if (!p) {
            rc = QS_ENOMEM;
            break;
        }
        m->labels = p;
        if (!(m->labels[m->nlabels] = strdup(tok)))
            rc = QS_ENOMEM;
        else
            m->nlabels++;
    }
    free(copy);
    return rc;
}

static void free_series(const qs_metric *m, series *s) {
    for (size_t i = 0; i < m->nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->bucket_counts);
}

static void free_metric(qs_metric *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->nseries; i++)
        free_series(m, &m->series[i]);
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->series);
    free(m->buckets);
    free(m->name);
    free(m->help);
    free(m);
}

static qs_metric *find_metric(const char *name) {
    for (size_t i = 0; i < nmetrics; i++)
        if (strcmp(metrics[i]->name, name) == 0)
            return metrics[i];
    return NULL;
}

static series *get_series(qs_metric *m, const char *const *values);
static const char *const no_values[1] = {""};

/* Build a metric (lock held). NULL on any invalid argument or ENOMEM. */
static qs_metric *make_metric(const char *name, const char *help, metric_kind kind,
                              const char *labels, const double *buckets, size_t nbuckets) {
    qs_metric *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->kind = kind;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    bool ok = m->name && m->help && split_labels(m, labels) == QS_OK;
    if (ok && kind == M_HISTOGRAM) {
        m->nbuckets = nbuckets;
        m->buckets = malloc((nbuckets ? nbuckets : 1) * sizeof *m->buckets);
        ok = m->buckets != NULL;
        for (size_t i = 0; ok && i < nbuckets; i++) {
            m->buckets[i] = buckets[i];
            ok = isfinite(buckets[i]) && (i == 0 || buckets[i] > buckets[i - 1]);
        }
    }
    if (ok && m->nlabels == 0)
        ok = get_series(m, no_values) != NULL;
    if (!ok) {
        free_metric(m);
        return NULL;
    }
    return m;
}

static qs_metric *declare(const char *name, const char *help, metric_kind kind, const char *labels,
                          const double *buckets, size_t nbuckets) {
    if (!valid_name(name, true)) {
        qs_log(QS_LOG_WARN, "invalid metric name", "metric", name, NULL);
        return NULL;
    }
    pthread_mutex_lock(&mu);
    qs_metric *m = find_metric(name);
    if (m) {
        if (m->kind != kind) {
            qs_log(QS_LOG_WARN, "metric redeclared with another type", "metric", name, NULL);
            m = NULL;
        }
        pthread_mutex_unlock(&mu);
        return m;
    }
    m = make_metric(name, help, kind, labels, buckets, nbuckets);
    if (m && nmetrics == metrics_cap) {
        size_t cap = metrics_cap ? metrics_cap * 2 : 32;
        qs_metric **p = realloc(metrics, cap * sizeof *p);
        if (p) {
            metrics = p;
            metrics_cap = cap;
        }
    }
    if (m && nmetrics < metrics_cap) {
        metrics[nmetrics++] = m;
    } else {
        free_metric(m);
        m = NULL;
        qs_log(QS_LOG_WARN, "cannot declare metric", "metric", name, NULL);
    }
    pthread_mutex_unlock(&mu);
    return m;
}

qs_metric *qs_counter(const char *name, const char *help, const char *labels) {
    return declare(name, help, M_COUNTER, labels, NULL, 0);
}

qs_metric *qs_gauge(const char *name, const char *help, const char *labels) {
    return declare(name, help, M_GAUGE, labels, NULL, 0);
}

qs_metric *qs_histogram(const char *name, const char *help, const char *labels,
                        const double *buckets, size_t nbuckets) {
    if (!buckets || !nbuckets) {
        buckets = default_buckets;
        nbuckets = QS_ARRAY_LEN(default_buckets);
    }
    return declare(name, help, M_HISTOGRAM, labels, buckets, nbuckets);
}

void qs_gauge_fn(const char *name, const char *help, double (*fn)(void *ctx), void *ctx) {
    qs_metric *m = declare(name, help, M_GAUGE_FN, NULL, NULL, 0);
    if (!m)
        return;
    pthread_mutex_lock(&mu);
    m->fn = fn;
    m->ctx = ctx;
    pthread_mutex_unlock(&mu);
}

/* ---- observations ---- */

/* The series with these label values, created on first use (lock held). */
static series *get_series(qs_metric *m, const char *const *values) {
    for (size_t i = 0; i < m->nseries; i++) {
        size_t j = 0;
        while (j < m->nlabels && strcmp(m->series[i].values[j], values[j]) == 0)
            j++;
        if (j == m->nlabels)
            return &m->series[i];
    }
    if (m->nseries == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        series *p = realloc(m->series, cap * sizeof *p);
        if (!p)
            return NULL;
        m->series = p;
        m->cap = cap;
    }
    series s = {0};
    s.values = calloc(m->nlabels ? m->nlabels : 1, sizeof *s.values);
    if (m->kind == M_HISTOGRAM)
        s.bucket_counts = calloc(m->nbuckets + 1, sizeof *s.bucket_counts);
    bool ok = s.values && (m->kind != M_HISTOGRAM || s.bucket_counts);
    for (size_t j = 0; ok && j < m->nlabels; j++)
        ok = (s.values[j] = strdup(values[j])) != NULL;
    if (!ok) {
        free_series(m, &s);
        return NULL;
    }
    m->series[m->nseries] = s;
    return &m->series[m->nseries++];
}

/* Collect the label values from `ap`; NULL counts as "". At most 16 labels. */
#define MAX_LABELS 16
static bool read_labels(const qs_metric *m, va_list ap, const char *out[MAX_LABELS]) {
    if (m->nlabels > MAX_LABELS)
        return false;
    for (size_t i = 0; i < m->nlabels; i++) {
        const char *v = va_arg(ap, const char *);
        out[i] = v ? v : "";
    }
    return true;
}

typedef enum { OP_ADD, OP_SET, OP_OBSERVE } op_kind;

static void apply(qs_metric *m, op_kind op, double v, va_list ap) {
    const char *vals[MAX_LABELS];
    if (!m || !read_labels(m, ap, vals) || isnan(v))
        return;
    static const bool allowed[3][4] = {
        /*            counter gauge  histogram gauge_fn */
        [OP_ADD] = {true, true, false, false},
        [OP_SET] = {false, true, false, false},
        [OP_OBSERVE] = {false, false, true, false},
    };
    if (!allowed[op][m->kind] || (m->kind == M_COUNTER && v < 0))
        return;
    pthread_mutex_lock(&mu);
    series *s = get_series(m, vals);
    if (s && op == OP_ADD)
        s->value += v;
    else if (s && op == OP_SET)
        s->value = v;
    else if (s && s->bucket_counts) {
        size_t b = 0;
        while (b < m->nbuckets && v > m->buckets[b])
            b++;
        s->bucket_counts[b]++;
        s->sum += v;
        s->count++;
    }
    pthread_mutex_unlock(&mu);
}

void qs_metric_add(qs_metric *m, double v, ...) {
    va_list ap;
    va_start(ap, v);
    apply(m, OP_ADD, v, ap);
    va_end(ap);
}

void qs_metric_set(qs_metric *m, double v, ...) {
    va_list ap;
    va_start(ap, v);
    apply(m, OP_SET, v, ap);
    va_end(ap);
}

void qs_metric_observe(qs_metric *m, double v, ...) {
    va_list ap;
    va_start(ap, v);
    apply(m, OP_OBSERVE, v, ap);
    va_end(ap);
}

/* For histograms this is the number of observations; for a gauge_fn, the function's value. */
double qs_metric_value(qs_metric *m, ...) {
    const char *vals[MAX_LABELS];
    double v = 0;
    if (!m)
        return 0;
    va_list ap;
    va_start(ap, m);
    bool ok = read_labels(m, ap, vals);
    va_end(ap);
    if (!ok)
        return 0;
    pthread_mutex_lock(&mu);
    if (m->kind == M_GAUGE_FN) {
        v = m->fn ? m->fn(m->ctx) : 0;
    } else {
        for (size_t i = 0; i < m->nseries; i++) {
            size_t j = 0;
            while (j < m->nlabels && strcmp(m->series[i].values[j], vals[j]) == 0)
                j++;
            if (j == m->nlabels)
                v = m->kind == M_HISTOGRAM ? (double)m->series[i].count : m->series[i].value;
        }
    }
    pthread_mutex_unlock(&mu);
    return v;
}

/* ---- rendering ---- */

static void put_number(qs_buf *out, double v) {
    if (isnan(v)) {
        qs_buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        qs_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    if (v == floor(v) && fabs(v) < 1e15) { /* integers in full: "60", not "6e+01" */
        qs_buf_printf(out, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    qs_buf_puts(out, tmp);
}

/* Escape for HELP (\ and newline) or label values (also "). */
static void put_escaped(qs_buf *out, const char *s, bool quote) {
    for (; *s; s++) {
        if (*s == '\\')
            qs_buf_puts(out, "\\\\");
        else if (*s == '\n')
            qs_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            qs_buf_puts(out, "\\\"");
        else
            qs_buf_append(out, s, 1);
    }
}

/* `name{l1="v1",...,le="x"}` — `le` may be NULL. */
static void put_series_name(qs_buf *out, const qs_metric *m, const char *suffix, const series *s,
                            const char *le) {
    qs_buf_puts(out, m->name);
    qs_buf_puts(out, suffix);
    if (m->nlabels == 0 && !le)
        return;
    qs_buf_puts(out, "{");
    for (size_t i = 0; i < m->nlabels; i++) {
        qs_buf_printf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
        put_escaped(out, s->values[i], true);
        qs_buf_puts(out, "\"");
    }
    if (le)
        qs_buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    qs_buf_puts(out, "}");
}

static void render_histogram_series(qs_buf *out, const qs_metric *m, const series *s) {
    unsigned long long cum = 0;
    for (size_t b = 0; b <= m->nbuckets; b++) {
        cum += s->bucket_counts[b];
        qs_buf le = QS_BUF_INIT;
        if (b < m->nbuckets)
            put_number(&le, m->buckets[b]);
        else
            qs_buf_puts(&le, "+Inf");
        put_series_name(out, m, "_bucket", s, qs_buf_str(&le));
        qs_buf_printf(out, " %llu\n", cum);
        qs_buf_free(&le);
    }
    put_series_name(out, m, "_sum", s, NULL);
    qs_buf_puts(out, " ");
    put_number(out, s->sum);
    qs_buf_puts(out, "\n");
    put_series_name(out, m, "_count", s, NULL);
    qs_buf_printf(out, " %llu\n", s->count);
}

static void render_metric(qs_buf *out, const qs_metric *m) {
    qs_buf_printf(out, "# HELP %s ", m->name);
    put_escaped(out, m->help, false);
    qs_buf_printf(out, "\n# TYPE %s %s\n", m->name, kind_names[m->kind]);
    if (m->kind == M_GAUGE_FN) {
        qs_buf_printf(out, "%s ", m->name);
        put_number(out, m->fn ? m->fn(m->ctx) : 0);
        qs_buf_puts(out, "\n");
        return;
    }
    for (size_t i = 0; i < m->nseries; i++) {
        const series *s = &m->series[i];
        if (m->kind == M_HISTOGRAM) {
            render_histogram_series(out, m, s);
            continue;
        }
        put_series_name(out, m, "", s, NULL);
        qs_buf_puts(out, " ");
        put_number(out, s->value);
        qs_buf_puts(out, "\n");
    }
}

void qs_metrics_render(qs_buf *out) {
    if (!out)
        return;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nmetrics; i++)
        render_metric(out, metrics[i]);
    pthread_mutex_unlock(&mu);
}

void qs_metrics_reset(void) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nmetrics; i++)
        free_metric(metrics[i]);
    free(metrics);
    metrics = NULL;
    nmetrics = metrics_cap = 0;
    pthread_mutex_unlock(&mu);
}
