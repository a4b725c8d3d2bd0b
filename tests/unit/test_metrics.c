/* test_metrics.c — exact Prometheus text for counters, gauges, histograms and computed
 * gauges, label escaping, value lookup, redeclaration and reset. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/metrics.h"

static void reset(void) { qs_metrics_reset(); }

TestSuite(metrics, .init = reset, .fini = reset);

static void assert_render(const char *want) {
    qs_buf b = QS_BUF_INIT;
    qs_metrics_render(&b);
    cr_assert_str_eq(qs_buf_str(&b), want);
    qs_buf_free(&b);
}

Test(metrics, counter_with_and_without_labels) {
    qs_metric *plain = qs_counter("qs_started_total", "Times started.", NULL);
    qs_metric *req = qs_counter("qs_requests_total", "Requests handled.", "method,code");
    assert_render("# HELP qs_started_total Times started.\n"
                  "# TYPE qs_started_total counter\n"
                  "qs_started_total 0\n"
                  "# HELP qs_requests_total Requests handled.\n"
                  "# TYPE qs_requests_total counter\n");
    qs_metric_add(plain, 1);
    qs_metric_add(req, 1, "GET", "200");
    qs_metric_add(req, 2, "GET", "200");
    qs_metric_add(req, 1, "PUT", "201");
    qs_metric_add(req, -5, "PUT", "201"); /* counters never go down */
    cr_assert_eq(qs_metric_value(req, "GET", "200"), 3);
    cr_assert_eq(qs_metric_value(req, "PUT", "201"), 1);
    cr_assert_eq(qs_metric_value(req, "PUT", "500"), 0);
    assert_render("# HELP qs_started_total Times started.\n"
                  "# TYPE qs_started_total counter\n"
                  "qs_started_total 1\n"
                  "# HELP qs_requests_total Requests handled.\n"
                  "# TYPE qs_requests_total counter\n"
                  "qs_requests_total{method=\"GET\",code=\"200\"} 3\n"
                  "qs_requests_total{method=\"PUT\",code=\"201\"} 1\n");
}

Test(metrics, gauge_set_add_and_numbers) {
    qs_metric *g = qs_gauge("qs_queue_depth", "Items waiting.", "queue");
    qs_metric_set(g, 5, "copy");
    qs_metric_add(g, 2.5, "copy");
    qs_metric_set(g, 0.005, "gc");
    qs_metric_set(g, 1e21, "big");
    cr_assert_eq(qs_metric_value(g, "copy"), 7.5);
    assert_render("# HELP qs_queue_depth Items waiting.\n"
                  "# TYPE qs_queue_depth gauge\n"
                  "qs_queue_depth{queue=\"copy\"} 7.5\n"
                  "qs_queue_depth{queue=\"gc\"} 0.005\n"
                  "qs_queue_depth{queue=\"big\"} 1e+21\n");
}

Test(metrics, label_and_help_escaping) {
    qs_metric *c = qs_counter("qs_esc_total", "Line one\nback\\slash \"quoted\".", "v");
    qs_metric_add(c, 1, "a\\b \"c\"\nd");
    qs_metric_add(c, 1, (const char *)NULL);
    assert_render("# HELP qs_esc_total Line one\\nback\\\\slash \"quoted\".\n"
                  "# TYPE qs_esc_total counter\n"
                  "qs_esc_total{v=\"a\\\\b \\\"c\\\"\\nd\"} 1\n"
                  "qs_esc_total{v=\"\"} 1\n");
}

Test(metrics, histogram_cumulative_buckets) {
    static const double b[] = {0.1, 0.5, 1};
    qs_metric *h = qs_histogram("qs_latency_seconds", "Latency.", "route", b, 3);
    qs_metric_observe(h, 0.05, "/v2/");
    qs_metric_observe(h, 0.1, "/v2/"); /* le is inclusive */
    qs_metric_observe(h, 0.7, "/v2/");
    qs_metric_observe(h, 3, "/v2/");
    cr_assert_eq(qs_metric_value(h, "/v2/"), 4);
    assert_render("# HELP qs_latency_seconds Latency.\n"
                  "# TYPE qs_latency_seconds histogram\n"
                  "qs_latency_seconds_bucket{route=\"/v2/\",le=\"0.1\"} 2\n"
                  "qs_latency_seconds_bucket{route=\"/v2/\",le=\"0.5\"} 2\n"
                  "qs_latency_seconds_bucket{route=\"/v2/\",le=\"1\"} 3\n"
                  "qs_latency_seconds_bucket{route=\"/v2/\",le=\"+Inf\"} 4\n"
                  "qs_latency_seconds_sum{route=\"/v2/\"} 3.85\n"
                  "qs_latency_seconds_count{route=\"/v2/\"} 4\n");
}

Test(metrics, histogram_default_buckets_no_labels) {
    qs_metric *h = qs_histogram("qs_op_seconds", "Op time.", NULL, NULL, 0);
    qs_metric_observe(h, 0.2);
    assert_render("# HELP qs_op_seconds Op time.\n"
                  "# TYPE qs_op_seconds histogram\n"
                  "qs_op_seconds_bucket{le=\"0.005\"} 0\n"
                  "qs_op_seconds_bucket{le=\"0.01\"} 0\n"
                  "qs_op_seconds_bucket{le=\"0.025\"} 0\n"
                  "qs_op_seconds_bucket{le=\"0.05\"} 0\n"
                  "qs_op_seconds_bucket{le=\"0.1\"} 0\n"
                  "qs_op_seconds_bucket{le=\"0.25\"} 1\n"
                  "qs_op_seconds_bucket{le=\"0.5\"} 1\n"
                  "qs_op_seconds_bucket{le=\"1\"} 1\n"
                  "qs_op_seconds_bucket{le=\"2.5\"} 1\n"
                  "qs_op_seconds_bucket{le=\"5\"} 1\n"
                  "qs_op_seconds_bucket{le=\"10\"} 1\n"
                  "qs_op_seconds_bucket{le=\"30\"} 1\n"
                  "qs_op_seconds_bucket{le=\"60\"} 1\n"
                  "qs_op_seconds_bucket{le=\"+Inf\"} 1\n"
                  "qs_op_seconds_sum 0.2\n"
                  "qs_op_seconds_count 1\n");
}

static double fn_value(void *ctx) { return *(double *)ctx; }

Test(metrics, gauge_fn_evaluated_at_render) {
    static double depth = 3;
    qs_gauge_fn("qs_token_ttl_seconds", "Seconds until the token expires.", fn_value, &depth);
    assert_render("# HELP qs_token_ttl_seconds Seconds until the token expires.\n"
                  "# TYPE qs_token_ttl_seconds gauge\n"
                  "qs_token_ttl_seconds 3\n");
    depth = 42.25;
    assert_render("# HELP qs_token_ttl_seconds Seconds until the token expires.\n"
                  "# TYPE qs_token_ttl_seconds gauge\n"
                  "qs_token_ttl_seconds 42.25\n");
}

Test(metrics, redeclare_wrong_use_and_reset) {
    qs_metric *a = qs_counter("qs_x_total", "X.", "k");
    cr_assert_eq(qs_counter("qs_x_total", "X again.", "k"), a);
    cr_assert_null(qs_gauge("qs_x_total", "X as gauge.", NULL));
    cr_assert_null(qs_counter("bad name", "invalid", NULL));
    cr_assert_null(qs_counter("qs_y_total", "bad label", "le"));
    cr_assert_null(qs_counter("qs_z_total", "bad label", "a-b"));
    qs_metric_set(a, 9, "v");     /* set is for gauges */
    qs_metric_observe(a, 9, "v"); /* observe is for histograms */
    cr_assert_eq(qs_metric_value(a, "v"), 0);
    qs_metric_add(NULL, 1);
    qs_metrics_reset();
    assert_render("");
    qs_metric *b = qs_counter("qs_x_total", "X.", "k");
    cr_assert_eq(qs_metric_value(b, "v"), 0);
}

static void *hammer(void *arg) {
    qs_metric *m = arg;
    for (int i = 0; i < 10000; i++)
        qs_metric_add(m, 1, i % 2 ? "odd" : "even");
    return NULL;
}

Test(metrics, thread_safe_adds) {
    qs_metric *m = qs_counter("qs_par_total", "Parallel.", "kind");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, m);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(qs_metric_value(m, "odd"), 20000);
    cr_assert_eq(qs_metric_value(m, "even"), 20000);
}
