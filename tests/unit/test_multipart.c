/* test_multipart.c — multipart/form-data parsing: curl's shape, quoting, binary data with
 * CRLFs inside, preambles, and every malformed body refused with a reason. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/multipart.h"

#define CT "multipart/form-data; boundary=------------------------abc123"
#define B "--------------------------abc123"

/* What `curl -F file=@bundle.zip -F note=hi` sends (data with CRLF and NUL inside). */
static const char curl_body[] =
    B "\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"bundle.zip\"\r\n"
      "Content-Type: application/zip\r\n"
      "\r\n"
      "PK\x03\x04\r\nbin\0ary\r\n--not-the-boundary\r\n"
      "\r\n" B "\r\n"
      "Content-Disposition: form-data; name=\"note\"\r\n"
      "\r\n"
      "hi"
      "\r\n" B "--\r\n";

Test(multipart, parses_curls_shape_with_binary_data) {
    qs_part *parts;
    size_t n;
    char err[200];
    int rc = qs_multipart_parse(CT, curl_body, sizeof curl_body - 1, &parts, &n, err, sizeof err);
    cr_assert_eq(rc, QS_OK, "%s", err);
    cr_assert_eq(n, 2);
    const qs_part *f = qs_multipart_get(parts, n, "file");
    cr_assert_not_null(f);
    cr_assert_str_eq(f->filename, "bundle.zip");
    cr_assert_str_eq(f->content_type, "application/zip");
    static const char want[] = "PK\x03\x04\r\nbin\0ary\r\n--not-the-boundary\r\n";
    cr_assert_eq(f->len, sizeof want - 1);
    cr_assert(memcmp(f->data, want, f->len) == 0);
    const qs_part *note = qs_multipart_get(parts, n, "note");
    cr_assert_null(note->filename);
    cr_assert_eq(note->len, 2);
    cr_assert(memcmp(note->data, "hi", 2) == 0);
    cr_assert_null(qs_multipart_get(parts, n, "nope"));
    qs_multipart_free(parts, n);
}

Test(multipart, boundary_forms) {
    char *b = qs_multipart_boundary("multipart/form-data; boundary=\"quoted b\"");
    cr_assert_str_eq(b, "quoted b");
    free(b);
    b = qs_multipart_boundary("Multipart/Form-Data;boundary=x;charset=utf-8");
    cr_assert_str_eq(b, "x");
    free(b);
    cr_assert_null(qs_multipart_boundary("application/json"));
    cr_assert_null(qs_multipart_boundary("multipart/form-data"));
    cr_assert_null(qs_multipart_boundary("multipart/form-data; boundary="));
    cr_assert_null(qs_multipart_boundary(NULL));
}

Test(multipart, preamble_and_escaped_filename) {
    static const char body[] =
        "ignored preamble\r\n--xyz\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".zip\"\r\n"
        "\r\n"
        "data\r\n--xyz--";
    qs_part *parts;
    size_t n;
    char err[200];
    cr_assert_eq(qs_multipart_parse("multipart/form-data; boundary=xyz", body, sizeof body - 1,
                                    &parts, &n, err, sizeof err),
                 QS_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(parts[0].filename, "a \"b\".zip");
    cr_assert_eq(parts[0].len, 4);
    qs_multipart_free(parts, n);
}

static void refused(const char *ct, const char *body, const char *why) {
    qs_part *parts = (qs_part *)1;
    size_t n = 99;
    char err[200] = "";
    cr_expect_eq(qs_multipart_parse(ct, body, strlen(body), &parts, &n, err, sizeof err), QS_EINVAL,
                 "%s", why);
    cr_expect_null(parts);
    cr_expect_eq(n, 0);
    cr_expect(strstr(err, why), "want \"%s\", got \"%s\"", why, err);
}

Test(multipart, malformed_bodies_are_refused_with_a_reason) {
    const char *ct = "multipart/form-data; boundary=xyz";
    refused("application/json", "{}", "not multipart");
    refused(ct, "no boundary at all", "no opening boundary");
    refused(ct, "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ntruncated",
            "closing boundary");
    refused(ct, "--xyz\r\nContent-Type: text/plain\r\n\r\nx\r\n--xyz--",
            "no Content-Disposition name");
    refused(ct, "--xyz\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--xyz--",
            "not form-data");
    refused(ct, "--xyz\r\nContent-Disposition: form-data; name=\"a\"", "headers do not end");
    refused(ct, "--xyzJUNK", "malformed");
}

Test(multipart, part_count_is_bounded) {
    size_t cap = 100 * 80 + 32;
    char *body = malloc(cap);
    size_t off = 0;
    for (int i = 0; i < 100; i++)
        off += (size_t)snprintf(
            body + off, cap - off,
            "--xyz\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\nv\r\n", i);
    off += (size_t)snprintf(body + off, cap - off, "--xyz--");
    qs_part *parts;
    size_t n;
    char err[200];
    cr_assert_eq(qs_multipart_parse("multipart/form-data; boundary=xyz", body, off, &parts, &n, err,
                                    sizeof err),
                 QS_EINVAL);
    cr_assert(strstr(err, "more than"), "%s", err);
    free(body);
}

/* ---- the real thing: a body built by libcurl's MIME code (what `curl -F` sends) ---- */
#include <curl/curl.h>
#include <microhttpd.h>

static qs_buf got_body = QS_BUF_INIT;
static char got_ct[300];

static enum MHD_Result capture(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *up,
                               size_t *upsize, void **con_cls) {
    (void)cls, (void)url, (void)method, (void)version;
    if (!*con_cls) {
        *con_cls = (void *)1;
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        snprintf(got_ct, sizeof got_ct, "%s", ct ? ct : "");
        return MHD_YES;
    }
    if (*upsize) {
        qs_buf_append(&got_body, up, *upsize);
        *upsize = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

Test(multipart, parses_what_libcurl_sends) {
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, capture,
                                            NULL, MHD_OPTION_END);
    cr_assert_not_null(d);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 13); /* binary, with CR, LF and dashes along the way */
    CURL *e = curl_easy_init();
    curl_mime *m = curl_mime_init(e);
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, "file");
    curl_mime_filename(p, "op.zip");
    curl_mime_data(p, data, sizeof data);
    p = curl_mime_addpart(m);
    curl_mime_name(p, "note");
    curl_mime_data(p, "hi", CURL_ZERO_TERMINATED);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_MIMEPOST, m);
    cr_assert_eq(curl_easy_perform(e), CURLE_OK);
    curl_mime_free(m);
    curl_easy_cleanup(e);
    MHD_stop_daemon(d);

    qs_part *parts;
    size_t n;
    char err[200];
    cr_assert_eq(
        qs_multipart_parse(got_ct, got_body.data, got_body.len, &parts, &n, err, sizeof err), QS_OK,
        "%s (Content-Type %s)", err, got_ct);
    const qs_part *f = qs_multipart_get(parts, n, "file");
    cr_assert_not_null(f);
    cr_assert_str_eq(f->filename, "op.zip");
    cr_assert_eq(f->len, sizeof data);
    cr_assert(memcmp(f->data, data, sizeof data) == 0);
    cr_assert_eq(qs_multipart_get(parts, n, "note")->len, 2);
    qs_multipart_free(parts, n);
    qs_buf_free(&got_body);
}
