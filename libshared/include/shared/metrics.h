/* metrics.h — counters, gauges and histograms with labels, exposed as Prometheus text.
 *
 * One process-wide registry. A metric is declared once (usually at start) with its label
 * names; observations pass label values in the same order as varargs strings. Thread-safe.
 * Label values are escaped on output. Never put a secret or an unbounded value (a token, a
 * full URL) in a label. */
#ifndef QS_METRICS_H
#define QS_METRICS_H

#include <stddef.h>

#include "shared/buf.h"

typedef struct qs_metric qs_metric;

/** Declare (or find, if already declared with the same name) a metric. `labels` is a
 *  comma-separated list of label names, or NULL/"" for none. */
qs_metric *qs_counter(const char *name, const char *help, const char *labels);
qs_metric *qs_gauge(const char *name, const char *help, const char *labels);
/** A histogram with the given upper bounds (ascending; +Inf is added). NULL buckets = the
 *  default latency buckets (5 ms … 60 s). */
qs_metric *qs_histogram(const char *name, const char *help, const char *labels,
                        const double *buckets, size_t nbuckets);

/** Add `v` (≥ 0) to a counter / gauge; then the label values, as many as declared. */
void qs_metric_add(qs_metric *m, double v, ...);
/** Set a gauge. */
void qs_metric_set(qs_metric *m, double v, ...);
/** Record one observation in a histogram. */
void qs_metric_observe(qs_metric *m, double v, ...);
/** The current value of a counter/gauge series (0 when never touched) — for tests. */
double qs_metric_value(qs_metric *m, ...);

/** A gauge whose value is computed at scrape time (queue depth, token expiry). */
void qs_gauge_fn(const char *name, const char *help, double (*fn)(void *ctx), void *ctx);

/** Render every metric in the Prometheus text format 0.0.4. */
void qs_metrics_render(qs_buf *out);
/** Drop every metric (tests). */
void qs_metrics_reset(void);

#endif
