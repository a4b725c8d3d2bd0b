/* test_xmlrpc.c — libshared's XML-RPC encoder/decoder.
 *
 * Round trips (encode a call or response, decode it back, compare with json_equal) over every
 * type, hand-written documents as Python's xmlrpc.client and Koji write them (prolog,
 * whitespace, untyped values, <i4>/<i8>, <nil/>, base64 and dateTime as strings, entities and
 * character references), faults with faultCode/faultString, escaping of & < > " ', and the
 * refusals: malformed XML, unknown elements, attributes, comments, trailing content, bad
 * numbers and booleans, control characters, invalid UTF-8, the depth and size limits. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/xmlrpc.h"

static json_t *resp_decode(const char *xml, int *rc) {
    json_t *v = NULL;
    char err[256];
    *rc = qs_xmlrpc_decode_response(xml, strlen(xml), &v, NULL, err, sizeof err);
    return v;
}

static void roundtrip_response(json_t *v) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(qs_xmlrpc_encode_response(v, &b), 0);
    int rc;
    json_t *back = resp_decode(qs_buf_str(&b), &rc);
    cr_assert_eq(rc, 0, "%s", qs_buf_str(&b));
    cr_assert(json_equal(v, back), "%s", qs_buf_str(&b));
    json_decref(back);
    qs_buf_free(&b);
}

Test(xmlrpc, roundtrip_every_type) {
    json_t *v = json_loads("{\"null\":null,\"i\":42,\"neg\":-7,\"big\":9000000000,\"r\":1.5,"
                           "\"t\":true,\"f\":false,\"s\":\"a & b < c > d \\\" e ' f\","
                           "\"u\":\"caf\\u00e9 \\u2603\",\"empty\":\"\",\"arr\":[1,\"x\",[],{}],"
                           "\"obj\":{\"k\":{\"n\":[null]}}}",
                           0, NULL);
    cr_assert_not_null(v);
    roundtrip_response(v);
    json_decref(v);
    json_t *scalars[] = {json_null(),      json_integer(0), json_real(-2.25),
                         json_string("x"), json_true(),     json_array()};
    for (size_t i = 0; i < QS_ARRAY_LEN(scalars); i++) {
        roundtrip_response(scalars[i]);
        json_decref(scalars[i]);
    }
}

Test(xmlrpc, call_roundtrip_and_escaping) {
    json_t *params = json_pack("[s, i, n, {s:b}]", "<&>\"'", 5, "k", 1);
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(qs_xmlrpc_encode_call("getBuild", params, &b), 0);
    const char *x = qs_buf_str(&b);
    cr_assert_not_null(strstr(x, "<string>&lt;&amp;&gt;&quot;&apos;</string>"), "%s", x);
    cr_assert_not_null(strstr(x, "<nil/>"));
    cr_assert_not_null(strstr(x, "<methodName>getBuild</methodName>"));
    char *m = NULL;
    json_t *back = NULL;
    char err[256];
    cr_assert_eq(qs_xmlrpc_decode_call(x, b.len, &m, &back, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(m, "getBuild");
    cr_assert(json_equal(params, back));
    free(m);
    json_decref(back);
    qs_buf_reset(&b);
    cr_assert_eq(qs_xmlrpc_encode_call("getAPIVersion", NULL, &b), 0);
    cr_assert_eq(qs_xmlrpc_decode_call(b.data, b.len, &m, &back, err, sizeof err), 0);
    cr_assert_eq(json_array_size(back), 0);
    free(m);
    json_decref(back);
    qs_buf_free(&b);
    json_decref(params);
}

Test(xmlrpc, encode_refuses_unencodable) {
    qs_buf b = QS_BUF_INIT;
    json_t *ctl = json_pack("[s]", "bell\a");
    cr_assert_eq(qs_xmlrpc_encode_call("m", ctl, &b), QS_EINVAL);
    cr_assert_eq(b.len, 0, "nothing left behind on failure");
    json_decref(ctl);
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 40; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    cr_assert_eq(qs_xmlrpc_encode_response(deep, &b), QS_EINVAL);
    json_decref(deep);
    cr_assert_eq(qs_xmlrpc_encode_call("", NULL, &b), QS_EINVAL);
    qs_buf_free(&b);
}

Test(xmlrpc, python_style_document) {
    const char *xml =
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n"
        "<member>\n<name>build_id</name>\n<value><i4>17</i4></value>\n</member>\n"
        "<member>\n<name>size</name>\n<value><i8>8589934592</i8></value>\n</member>\n"
        "<member>\n<name>volume_name</name>\n<value>DEFAULT</value>\n</member>\n"
        "<member>\n<name>blob</name>\n<value><base64>\nAAEC\n</base64></value>\n</member>\n"
        "<member>\n<name>when</name>\n<value><dateTime.iso8601>20240101T10:00:00"
        "</dateTime.iso8601></value>\n</member>\n"
        "<member>\n<name>owner</name>\n<value><nil/></value></member>\n"
        "<member>\n<name>ok</name>\n<value><boolean> 1 </boolean></value></member>\n"
        "<member>\n<name>ratio</name>\n<value><double>0.5</double></value></member>\n"
        "<member>\n<name>txt</name>\n<value><string>a&amp;b &#65;&#x42; &lt;x&gt;</string>"
        "</value></member>\n"
        "<member>\n<name>e</name>\n<value><string/></value></member>\n"
        "<member>\n<name>v</name>\n<value/></member>\n"
        "<member>\n<name>list</name>\n<value><array><data>\n<value><int>1</int></value>\n"
        "</data></array></value></member>\n"
        "</struct></value>\n</param>\n</params>\n</methodResponse>\n";
    int rc;
    json_t *v = resp_decode(xml, &rc);
    cr_assert_eq(rc, 0);
    json_t *want = json_loads(
        "{\"build_id\":17,\"size\":8589934592,\"volume_name\":\"DEFAULT\",\"blob\":\"\\nAAEC\\n\","
        "\"when\":\"20240101T10:00:00\",\"owner\":null,\"ok\":true,\"ratio\":0.5,"
        "\"txt\":\"a&b AB <x>\",\"e\":\"\",\"v\":\"\",\"list\":[1]}",
        0, NULL);
    cr_assert(json_equal(v, want), "%s", json_dumps(v, JSON_COMPACT));
    json_decref(v);
    json_decref(want);
}

Test(xmlrpc, fault) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(qs_xmlrpc_encode_fault(1000, "Invalid method: <x>", &b), 0);
    json_t *v = (json_t *)1;
    qs_xmlrpc_fault f;
    char err[128];
    cr_assert_eq(qs_xmlrpc_decode_response(b.data, b.len, &v, &f, err, sizeof err),
                 QS_XMLRPC_FAULT);
    cr_assert_null(v);
    cr_assert_eq(f.code, 1000);
    cr_assert_str_eq(f.message, "Invalid method: <x>");
    qs_buf_free(&b);
    /* a fault without faultString is malformed */
    const char *bad = "<methodResponse><fault><value><struct><member><name>faultCode</name>"
                      "<value><int>1</int></value></member></struct></value></fault>"
                      "</methodResponse>";
    cr_assert_eq(qs_xmlrpc_decode_response(bad, strlen(bad), &v, &f, err, sizeof err), QS_EPROTO);
}

Test(xmlrpc, malformed_refused) {
    static const char *const bad[] = {
        "",
        "not xml",
        "<methodResponse>",
        "<methodResponse><params><param><value><int>1</int></value></param></params>",
        "<methodResponse><params><param><value><int>1</int></value></param></params>"
        "</methodResponse>junk",
        "<methodResponse><params><param><value><foo>1</foo></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><int a=\"1\">1</int></value></param></params>"
        "</methodResponse>",
        "<!-- c --><methodResponse><params><param><value>x</value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><int>1x</int></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><int>4294967296</int></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><boolean>2</boolean></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><double>nan</double></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><string>a&bogus;</string></value></param>"
        "</params></methodResponse>",
        "<methodResponse><params><param><value><string>&#0;</string></value></param>"
        "</params></methodResponse>",
        "<methodResponse><params><param><value><string>\x01</string></value></param>"
        "</params></methodResponse>",
        "<methodResponse><params><param><value><string>\xff\xfe</string></value></param>"
        "</params></methodResponse>",
        "<methodResponse><params><param><value><int>1</string></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value>x<int>1</int></value></param></params>"
        "</methodResponse>",
        "<methodResponse><params><param><value><struct><member><value>x</value></member>"
        "</struct></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><array><value>x</value></array></value>"
        "</param></params></methodResponse>",
        "<methodResponse><![CDATA[x]]></methodResponse>",
        "<methodCall><methodName>x</methodName></methodCall>",
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(bad); i++) {
        int rc;
        json_t *v = resp_decode(bad[i], &rc);
        cr_assert_eq(rc, QS_EPROTO, "case %zu accepted (rc %d)", i, rc);
        cr_assert_null(v);
    }
    char *m;
    json_t *p;
    char err[128];
    const char *call = "<methodCall><methodName></methodName></methodCall>";
    cr_assert_eq(qs_xmlrpc_decode_call(call, strlen(call), &m, &p, err, sizeof err), QS_EPROTO);
    call = "<methodCall><methodName>m</methodName><params><value>1</value></params></methodCall>";
    cr_assert_eq(qs_xmlrpc_decode_call(call, strlen(call), &m, &p, err, sizeof err), QS_EPROTO);
    cr_assert_not_null(strstr(err, "xml-rpc:"), "%s", err);
}

static char *nested(int depth) {
    qs_buf b = QS_BUF_INIT;
    qs_buf_puts(&b, "<methodResponse><params><param>");
    for (int i = 0; i < depth; i++)
        qs_buf_puts(&b, "<value><array><data>");
    for (int i = 0; i < depth; i++)
        qs_buf_puts(&b, "</data></array></value>");
    qs_buf_puts(&b, "</param></params></methodResponse>");
    return qs_buf_steal(&b);
}

Test(xmlrpc, depth_limit) {
    char *ok = nested(QS_XMLRPC_MAX_DEPTH), *deep = nested(QS_XMLRPC_MAX_DEPTH + 1);
    int rc;
    json_t *v = resp_decode(ok, &rc);
    cr_assert_eq(rc, 0);
    json_decref(v);
    v = resp_decode(deep, &rc);
    cr_assert_eq(rc, QS_EPROTO);
    cr_assert_null(v);
    char *huge = nested(100000);
    v = resp_decode(huge, &rc);
    cr_assert_eq(rc, QS_EPROTO);
    free(ok);
    free(deep);
    free(huge);
}

Test(xmlrpc, size_limit) {
    size_t n = QS_XMLRPC_MAX_SIZE + 1;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    json_t *v = NULL;
    char err[128];
    cr_assert_eq(qs_xmlrpc_decode_response(big, n, &v, NULL, err, sizeof err), QS_ETOOBIG);
    free(big);
}
