/*
 * C ABI tests that need no platform: every export with NULL, foreign, freed and wrong-family
 * pointers, invalid UTF-8, interior NULs, invalid JSON and unknown keys; `_free(NULL)`; the
 * panic boundary; error accessors; cancellation tokens; the log callback; connection errors
 * (a closed loopback port) in blocking and `_async` form; streams whose open failed; blocking
 * calls from a completion callback (they run) and from a runtime thread (refused); a readiness
 * stream that ends before a terminal phase (a canned server); concurrent use of one client;
 * fork; ik_runtime_shutdown (last).
 *
 * Run: ./test_abi  (IK_TEST_VERBOSE=1 prints every error seen)
 */
#define _GNU_SOURCE
#include <poll.h>

#include "harness.h"

#define SDK_SECRET "S3cr3tS3cr3tS3cr3t"
#define SDK_TOKEN "ik_sdk_pub12345_" SDK_SECRET
#define LIVE_SECRET "L1veS3cr3tL1veS3cr3t"
#define LIVE_KEY "ik_live_pub67890_" LIVE_SECRET

#define ENSURE_REQ                                                                             \
    "{\"spec\":{\"name\":\"Bot\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\","     \
    "\"command\":\"vllm serve m\"},\"on_drift\":\"reconcile\"}"

static char g_base[64];     /* http://127.0.0.1:<closed port> */
static char g_mcfg[512];    /* management client config */
static char g_dcfg[512];    /* data client config */

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

static ik_management_client *new_mgmt(const char *cfg) {
    ik_management_client *c = NULL;
    ik_error *err = NULL;
    if (!CHECK_OK(ik_management_client_new(cfg, strlen(cfg), &c, &err), &err)) return NULL;
    CHECK(c != NULL);
    return c;
}

static ik_data_client *new_data(const char *cfg) {
    ik_data_client *c = NULL;
    ik_error *err = NULL;
    if (!CHECK_OK(ik_data_client_new(cfg, strlen(cfg), &c, &err), &err)) return NULL;
    CHECK(c != NULL);
    return c;
}

static ik_endpoint *new_endpoint(const ik_data_client *d, const char *slug) {
    char req[256];
    ik_endpoint *e = NULL;
    ik_error *err = NULL;
    snprintf(req, sizeof req, "{\"workload_slug\":\"%s\"}", slug);
    if (!CHECK_OK(ik_endpoint_new(d, req, strlen(req), &e, &err), &err)) return NULL;
    CHECK(e != NULL);
    return e;
}

#define CHECK_ERR_W(what, expr, errp, expected, code)                                          \
    h_check_err(__FILE__, __LINE__, (what), (expr), (errp), (expected), (code))

#define CHECK_UNTOUCHED(what, out, len)                                                        \
    CHECKF((void *)(out) == (void *)SENTINEL_STR && (len) == SENTINEL_LEN,                     \
           "%s: out-parameters written on failure (c-abi rule 8)", (what))

/* Bad request bodies shared by every request-taking export. */
struct bad_req {
    const char *label;
    const char *ptr;
    size_t len;
    ik_status status;
    const char *code;
};

static const char INTERIOR_NUL[] = "{}\0{}";
static const struct bad_req BAD_REQS[] = {
    {"NULL req", NULL, 2, IK_ERR_NULL_ARG, "null_argument"},
    {"NULL req, len 0", NULL, 0, IK_ERR_NULL_ARG, "null_argument"},
    {"invalid UTF-8", LIT("{\"project\":\"\xff\xfe\"}"), IK_ERR_INVALID_UTF8, "invalid_utf8"},
    {"interior NUL", INTERIOR_NUL, sizeof INTERIOR_NUL - 1, IK_ERR_INVALID_ARG, "interior_nul"},
    {"empty string", "", 0, IK_ERR_INVALID_JSON, "invalid_json"},
    {"truncated JSON", LIT("{\"project\":"), IK_ERR_INVALID_JSON, "invalid_json"},
    {"not an object", LIT("[1,2]"), IK_ERR_INVALID_JSON, "invalid_json"},
    /* serde's array form of a struct (fields in order) is not a request either */
    {"an array of fields", LIT(" [\"bot\"]"), IK_ERR_INVALID_JSON, "invalid_json"},
    {"unknown key", LIT("{\"bogus_key\":1}"), IK_ERR_INVALID_JSON, "invalid_json"},
};
#define N_BAD_REQS (sizeof BAD_REQS / sizeof BAD_REQS[0])

/* ---------------------------------------------------------------------------------------- */
/* Versions, frees, foreign pointers                                                        */

static void test_version_matches_header(void) {
    const char *v = ik_version();
    int a, b, c;
    REQUIRE(v != NULL);
    CHECK_STREQ(v, IK_VERSION);
    CHECK(ik_version() == v); /* static, stable */
    CHECK_EQ_INT(ik_abi_version(), IK_ABI_VERSION);
    CHECK_EQ_INT(IK_ABI_VERSION, 3); /* these tests are written for ABI 3 */
    CHECK(sscanf(v, "%d.%d.%d", &a, &b, &c) == 3);
}

static void test_free_null_is_noop(void) {
    ik_buffer_free(NULL);
    ik_error_free(NULL);
    ik_cancel_free(NULL);
    ik_cancel_cancel(NULL);
    CHECK_EQ_INT(ik_cancel_is_cancelled(NULL), 0);
    ik_management_client_free(NULL);
    ik_data_client_free(NULL);
    ik_endpoint_free(NULL);
    ik_stream_close(NULL);
    ik_stream_free(NULL);
    ik_dev_server_stop(NULL);
    ik_dev_server_free(NULL);
}

static void test_double_free_and_foreign_pointers_are_ignored(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_cancel *c = ik_cancel_new();
    ik_error *err = NULL;
    char *s = NULL, *heap = strdup("not from the library");
    size_t len = 0;
    int local = 0;
    REQUIRE(m && d && e && c && heap);

    /* Foreign pointers (stack, heap, static) are never freed or dereferenced. */
    ik_buffer_free(heap);
    ik_buffer_free((char *)"literal");
    ik_buffer_free((char *)&local);
    ik_error_free((ik_error *)&local);
    ik_cancel_free((ik_cancel *)&local);
    ik_cancel_cancel((ik_cancel *)&local);
    CHECK_EQ_INT(ik_cancel_is_cancelled((ik_cancel *)&local), 0);
    ik_management_client_free((ik_management_client *)&local);
    ik_data_client_free((ik_data_client *)heap);
    ik_endpoint_free((ik_endpoint *)&local);
    ik_stream_close((ik_stream *)&local);
    ik_stream_free((ik_stream *)heap);
    ik_dev_server_stop((ik_dev_server *)&local);
    ik_dev_server_free((ik_dev_server *)&local);
    CHECK_STREQ(heap, "not from the library");
    free(heap);

    /* A handle of one family is never accepted as another. */
    ik_error_free((ik_error *)c);
    ik_buffer_free((char *)m);
    ik_stream_free((ik_stream *)e);
    ik_endpoint_free((ik_endpoint *)d);
    ik_data_client_free((ik_data_client *)m);
    ik_management_client_free((ik_management_client *)c);
    ik_dev_server_free((ik_dev_server *)m);
    ik_cancel_cancel((ik_cancel *)m);
    /* ... and every one of them still works. */
    CHECK_EQ_INT(ik_cancel_is_cancelled(c), 0);
    ik_cancel_cancel(c);
    CHECK_EQ_INT(ik_cancel_is_cancelled(c), 1);
    CHECK_OK(ik_management_client_describe(m, &s, &len, &err), &err);
    ik_buffer_free(s);
    ik_buffer_free(s); /* double free of a string: ignored */
    s = NULL;
    CHECK_OK(ik_data_client_describe(d, &s, &len, &err), &err);
    ik_buffer_free(s);
    s = NULL;
    CHECK_OK(ik_endpoint_describe(e, &s, &len, &err), &err);
    ik_buffer_free(s);
    s = NULL;

    /* An error freed twice. */
    CHECK_STATUS(ik_management_client_describe(NULL, &s, &len, &err), IK_ERR_NULL_ARG);
    CHECK(err != NULL);
    ik_error_free(err);
    ik_error_free(err);
    err = NULL;

    /* Handles freed twice; calls on a freed handle are rejected, not dereferenced. */
    ik_endpoint_free(e);
    ik_endpoint_free(e);
    CHECK_ERR(ik_endpoint_describe(e, &s, &len, &err), &err, IK_ERR_INVALID_HANDLE,
              "invalid_handle");
    ik_data_client_free(d);
    ik_data_client_free(d);
    CHECK_ERR(ik_data_client_describe(d, &s, &len, &err), &err, IK_ERR_INVALID_HANDLE,
              "invalid_handle");
    ik_management_client_free(m);
    ik_management_client_free(m);
    CHECK_ERR(ik_management_client_describe(m, &s, &len, &err), &err, IK_ERR_INVALID_HANDLE,
              "invalid_handle");
    ik_cancel_free(c);
    ik_cancel_free(c);
    CHECK_EQ_INT(ik_cancel_is_cancelled(c), 0);
    ik_cancel_cancel(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Handle liveness (c-abi rule 9a): IK_ERR_INVALID_HANDLE, immune to address reuse           */

/* Checks an `invalid_handle` error whose message names `type` and contains `why`. */
static void h_check_invalid_handle(const char *file, int line, const char *what, ik_status got,
                                   ik_error **errp, const char *type, const char *why) {
    if (*errp != NULL) {
        const char *m = ik_error_message(*errp);
        if (strstr(m, type) == NULL || strstr(m, why) == NULL)
            h_fail(file, line, "%s: message \"%s\" should name %s and say \"%s\"", what, m, type,
                   why);
    }
    h_check_err(file, line, what, got, errp, IK_ERR_INVALID_HANDLE, "invalid_handle");
}
#define CHECK_INVALID_HANDLE(expr, errp, type, why)                                            \
    h_check_invalid_handle(__FILE__, __LINE__, #expr, (expr), (errp), (type), (why))

/* (a) A freed handle of every kind that a status-returning export takes. */
static void test_a_freed_handle_is_an_invalid_handle(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL, *e2 = NULL;
    ik_cancel *c = ik_cancel_new();
    ik_stream *s = NULL;
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    waiter *w = waiter_new();
    REQUIRE(m && d && e && c);
    CHECK_OK(ik_management_client_readiness_events_async(
                 m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":1}"), NULL, &s, waiter_cb, w, &err),
             &err);
    REQUIRE(s != NULL);
    CHECK_ASYNC(w, 20, IK_ERR_READINESS_TIMEOUT, NULL);
    waiter_reset(w);

    /* A freed cancel token, passed to live handles. */
    ik_cancel_free(c);
    CHECK_INVALID_HANDLE(ik_endpoint_embed(e, LIT("{\"input\":[\"a\"]}"), c, &out, &len, &err),
                         &err, "ik_cancel", "freed");
    CHECK_INVALID_HANDLE(ik_management_client_list_async(m, LIT("{}"), c, waiter_cb, w, &err), &err,
                         "ik_cancel", "freed");

    ik_management_client_free(m);
    ik_endpoint_free(e);
    ik_stream_free(s);
    CHECK_INVALID_HANDLE(ik_management_client_describe(m, &out, &len, &err), &err,
                         "ik_management_client", "freed");
    CHECK_INVALID_HANDLE(ik_management_client_list(m, LIT("{}"), NULL, &out, &len, &err), &err,
                         "ik_management_client", "freed");
    CHECK_INVALID_HANDLE(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, w, &err), &err,
                         "ik_management_client", "freed");
    CHECK_INVALID_HANDLE(ik_endpoint_describe(e, &out, &len, &err), &err, "ik_endpoint", "freed");
    CHECK_INVALID_HANDLE(ik_endpoint_embed(e, LIT("{\"input\":[\"a\"]}"), NULL, &out, &len, &err),
                         &err, "ik_endpoint", "freed");
    CHECK_INVALID_HANDLE(ik_stream_next(s, &out, &len, &err), &err, "ik_stream", "freed");
    CHECK_INVALID_HANDLE(ik_stream_next_async(s, NULL, waiter_cb, w, &err), &err, "ik_stream",
                         "freed");
    CHECK_INVALID_HANDLE(ik_stream_metadata(s, &out, &len, &err), &err, "ik_stream", "freed");
    ik_data_client_free(d);
    CHECK_INVALID_HANDLE(ik_data_client_describe(d, &out, &len, &err), &err, "ik_data_client",
                         "freed");
    CHECK_INVALID_HANDLE(ik_endpoint_new(d, LIT("{\"workload_slug\":\"bot\"}"), &e2, &err), &err,
                         "ik_data_client", "freed");
    /* The status comes without `err` too. */
    CHECK_STATUS(ik_endpoint_describe(e, &out, &len, NULL), IK_ERR_INVALID_HANDLE);
    CHECK_UNTOUCHED("calls on freed handles", out, len);
    CHECK(e2 == NULL);
    /* Functions without a status ignore freed handles. */
    ik_cancel_cancel(c);
    CHECK_EQ_INT(ik_cancel_is_cancelled(c), 0);
    ik_stream_close(s);
    /* Accessors of a freed error return their defaults. */
    CHECK_STATUS(ik_endpoint_describe(e, &out, &len, &err), IK_ERR_INVALID_HANDLE);
    REQUIRE(err != NULL);
    ik_error_free(err);
    CHECK_EQ_INT(ik_error_status(err), IK_ERR_UNKNOWN);
    CHECK(ik_error_message(err)[0] == '\0');
    err = NULL;
    sleep_ms(50);
    CHECK_EQ_INT(waiter_calls(w), 0);
    waiter_free(w);
}

#define REUSE_ROUNDS 1000

/* (b) A freed handle stays refused while 1000 new handles of its kind come and go (the
 * allocator may reuse the freed objects' memory at once; the handle values never repeat). */
static void test_a_freed_handle_stays_refused_when_new_handles_are_made(void) {
    ik_management_client *old_m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg), *old_d = new_data(g_dcfg);
    ik_endpoint *old_e = d ? new_endpoint(d, "bot") : NULL;
    ik_cancel *old_c = ik_cancel_new();
    ik_error *err = NULL, *old_err = NULL;
    char *out = NULL;
    int i, repeats = 0;
    REQUIRE(old_m && d && old_d && old_e && old_c);
    CHECK_STATUS(ik_management_client_describe(NULL, &out, NULL, &old_err), IK_ERR_NULL_ARG);
    REQUIRE(old_err != NULL);
    ik_management_client_free(old_m);
    ik_data_client_free(old_d);
    ik_endpoint_free(old_e);
    ik_cancel_free(old_c);
    ik_error_free(old_err);
    for (i = 0; i < REUSE_ROUNDS; i++) {
        ik_management_client *m = new_mgmt(g_mcfg);
        ik_data_client *d2 = new_data(g_dcfg);
        ik_endpoint *e = new_endpoint(d, "bot");
        ik_cancel *c = ik_cancel_new();
        ik_error *e_new = NULL;
        REQUIRE(m && d2 && e && c);
        CHECK_STATUS(ik_management_client_describe(NULL, &out, NULL, &e_new), IK_ERR_NULL_ARG);
        repeats += (m == old_m) + (d2 == old_d) + (e == old_e) + (c == old_c) + (e_new == old_err);
        /* The old handles are refused; the new ones work. */
        CHECK_INVALID_HANDLE(ik_management_client_describe(old_m, &out, NULL, &err), &err,
                             "ik_management_client", "freed");
        CHECK_INVALID_HANDLE(ik_data_client_describe(old_d, &out, NULL, &err), &err,
                             "ik_data_client", "freed");
        CHECK_INVALID_HANDLE(ik_endpoint_describe(old_e, &out, NULL, &err), &err, "ik_endpoint",
                             "freed");
        CHECK_INVALID_HANDLE(ik_management_client_list(m, LIT("{}"), old_c, &out, NULL, &err), &err,
                             "ik_cancel", "freed");
        CHECK_EQ_INT(ik_error_status(old_err), IK_ERR_UNKNOWN);
        CHECK_EQ_INT(ik_error_status(e_new), IK_ERR_NULL_ARG);
        ik_cancel_cancel(old_c); /* ignored: must not cancel the new token */
        CHECK_EQ_INT(ik_cancel_is_cancelled(c), 0);
        if (CHECK_OK(ik_management_client_describe(m, &out, NULL, &err), &err)) ik_buffer_free(out);
        out = NULL;
        /* A second free of an old handle must not free a new one. */
        ik_management_client_free(old_m);
        ik_endpoint_free(old_e);
        ik_cancel_free(old_c);
        ik_error_free(old_err);
        ik_data_client_free(old_d);
        if (CHECK_OK(ik_endpoint_describe(e, &out, NULL, &err), &err)) ik_buffer_free(out);
        out = NULL;
        if (CHECK_OK(ik_data_client_describe(d2, &out, NULL, &err), &err)) ik_buffer_free(out);
        out = NULL;
        CHECK_EQ_INT(ik_error_status(e_new), IK_ERR_NULL_ARG);
        ik_error_free(e_new);
        ik_cancel_free(c);
        ik_endpoint_free(e);
        ik_data_client_free(d2);
        ik_management_client_free(m);
        if (h_current_failed) break;
    }
    CHECKF(repeats == 0, "%d new handles were equal to a freed one", repeats);
    h_log("%d rounds, %d repeated handle values", i, repeats);
    ik_data_client_free(d);
}

/* (c) A live or freed handle of another kind, and pointers the library never made. */
static void test_another_kind_or_a_foreign_pointer_is_an_invalid_handle(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_cancel *c = ik_cancel_new(), *freed_c = ik_cancel_new();
    ik_error *err = NULL;
    char *out = SENTINEL_STR, *str = NULL;
    size_t len = SENTINEL_LEN;
    int local = 0;
    REQUIRE(m && d && e && c && freed_c);
    ik_cancel_free(freed_c);
    CHECK_INVALID_HANDLE(ik_management_client_describe((ik_management_client *)d, &out, &len, &err),
                         &err, "ik_management_client", "ik_data_client (a handle of another kind)");
    CHECK_INVALID_HANDLE(ik_data_client_describe((ik_data_client *)e, &out, &len, &err), &err,
                         "ik_data_client", "ik_endpoint (a handle of another kind)");
    CHECK_INVALID_HANDLE(ik_endpoint_describe((ik_endpoint *)c, &out, &len, &err), &err,
                         "ik_endpoint", "ik_cancel (a handle of another kind)");
    CHECK_INVALID_HANDLE(ik_endpoint_describe((ik_endpoint *)freed_c, &out, &len, &err), &err,
                         "ik_endpoint", "ik_cancel that was freed");
    CHECK_INVALID_HANDLE(ik_stream_next((ik_stream *)m, &out, &len, &err), &err, "ik_stream",
                         "another kind");
    CHECK_INVALID_HANDLE(ik_management_client_list(m, LIT("{}"), (ik_cancel *)e, &out, &len, &err), &err,
                         "ik_cancel", "ik_endpoint (a handle of another kind)");
    /* A live error passed as a handle of another kind. */
    CHECK_STATUS(ik_endpoint_describe(NULL, &out, &len, &err), IK_ERR_NULL_ARG);
    REQUIRE(err != NULL);
    {
        ik_error *err2 = NULL;
        CHECK_INVALID_HANDLE(ik_endpoint_describe((ik_endpoint *)err, &out, &len, &err2), &err2,
                             "ik_endpoint", "ik_error (a handle of another kind)");
    }
    CHECK_EQ_INT(ik_error_status(err), IK_ERR_NULL_ARG); /* still live */
    ik_error_free(err);
    err = NULL;
    /* Pointers the library never made as handles: stack, a result buffer. */
    CHECK_INVALID_HANDLE(ik_endpoint_describe((ik_endpoint *)&local, &out, &len, &err), &err,
                         "ik_endpoint", "not made by this library");
    REQUIRE(CHECK_OK(ik_endpoint_describe(e, &str, NULL, &err), &err));
    CHECK_INVALID_HANDLE(ik_endpoint_describe((ik_endpoint *)str, &out, &len, &err), &err,
                         "ik_endpoint", "not made by this library");
    /* ... and a handle is not a result buffer: freeing one as a string does nothing. */
    ik_buffer_free((char *)e);
    ik_buffer_free(str);
    CHECK_UNTOUCHED("calls with handles of another kind", out, len);
    if (CHECK_OK(ik_endpoint_describe(e, &str, NULL, &err), &err)) ik_buffer_free(str);
    ik_cancel_free(c);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

/* (d) Every `_free` returns void: a double free is ignored and leaves other handles alone,
 * including one made in between (which may sit at the freed object's address). */
static void test_a_double_free_is_harmless(void) {
    ik_management_client *m1 = new_mgmt(g_mcfg), *m2 = NULL;
    ik_data_client *d1 = new_data(g_dcfg), *d2 = NULL;
    ik_endpoint *e1 = d1 ? new_endpoint(d1, "bot") : NULL, *e2 = NULL;
    ik_cancel *c1 = ik_cancel_new(), *c2 = NULL;
    ik_error *err = NULL, *x1 = NULL, *x2 = NULL;
    char *out = NULL;
    REQUIRE(m1 && d1 && e1 && c1);
    CHECK_STATUS(ik_endpoint_describe(NULL, &out, NULL, &x1), IK_ERR_NULL_ARG);
    ik_management_client_free(m1);
    ik_endpoint_free(e1);
    ik_cancel_free(c1);
    ik_error_free(x1);
    m2 = new_mgmt(g_mcfg);
    e2 = new_endpoint(d1, "bot");
    c2 = ik_cancel_new();
    CHECK_STATUS(ik_endpoint_describe(NULL, &out, NULL, &x2), IK_ERR_NULL_ARG);
    REQUIRE(m2 && e2 && c2 && x2);
    ik_management_client_free(m1);
    ik_endpoint_free(e1);
    ik_cancel_free(c1);
    ik_error_free(x1);
    ik_data_client_free(d1);
    ik_data_client_free(d1);
    d2 = new_data(g_dcfg);
    REQUIRE(d2);
    ik_data_client_free(d1);
    /* The handles made after the first free are intact. */
    if (CHECK_OK(ik_management_client_describe(m2, &out, NULL, &err), &err)) ik_buffer_free(out);
    out = NULL;
    if (CHECK_OK(ik_endpoint_describe(e2, &out, NULL, &err), &err)) ik_buffer_free(out);
    out = NULL;
    if (CHECK_OK(ik_data_client_describe(d2, &out, NULL, &err), &err)) ik_buffer_free(out);
    out = NULL;
    CHECK_EQ_INT(ik_cancel_is_cancelled(c2), 0);
    CHECK_EQ_INT(ik_error_status(x2), IK_ERR_NULL_ARG);
    CHECK(ik_error_code(x2)[0] != '\0');
    /* Freeing a result buffer twice, with no buffer made in between: ignored. */
    REQUIRE(CHECK_OK(ik_endpoint_describe(e2, &out, NULL, &err), &err));
    ik_buffer_free(out);
    ik_buffer_free(out);
    ik_error_free(x2);
    ik_error_free(x2);
    ik_cancel_free(c2);
    ik_cancel_free(c2);
    ik_endpoint_free(e2);
    ik_endpoint_free(e2);
    ik_data_client_free(d2);
    ik_management_client_free(m2);
    ik_management_client_free(m2);
}

/* c-abi rules 6 and 8: `*err` is written only on failure; a successful call leaves it as it
 * was (here: a sentinel that is not a valid error). */
static void test_err_is_untouched_on_success(void) {
    ik_error *const sentinel = (ik_error *)SENTINEL_STR;
    ik_error *err = sentinel;
    ik_management_client *m = NULL, *m2 = NULL;
    ik_data_client *d = NULL, *d2 = NULL;
    ik_endpoint *e = NULL;
    char *out = NULL;
    waiter *w = waiter_new();
    CHECK_STATUS(ik_management_client_new(g_mcfg, strlen(g_mcfg), &m, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_STATUS(ik_management_client_with_options(m, LIT("{}"), &m2, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_STATUS(ik_management_client_describe(m, &out, NULL, &err), IK_OK);
    CHECK(err == sentinel);
    ik_buffer_free(out);
    out = NULL;
    CHECK_STATUS(ik_data_client_new(g_dcfg, strlen(g_dcfg), &d, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_STATUS(ik_data_client_with_options(d, LIT("{}"), &d2, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_STATUS(ik_data_client_describe(d, &out, NULL, &err), IK_OK);
    CHECK(err == sentinel);
    ik_buffer_free(out);
    out = NULL;
    CHECK_STATUS(ik_endpoint_new(d, LIT("{\"workload_slug\":\"bot\"}"), &e, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_STATUS(ik_endpoint_describe(e, &out, NULL, &err), IK_OK);
    CHECK(err == sentinel);
    ik_buffer_free(out);
    CHECK_STATUS(ik_log_set_callback(0, NULL, NULL, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_STATUS(ik_workload_spec_validate(LIT("{\"name\":\"B\",\"slug\":\"b\",\"model\":\"m\","
                                               "\"backend\":\"vllm\"}"),
                                           &err),
                 IK_OK);
    CHECK(err == sentinel);
    /* An `_async` call that was accepted: IK_OK, err untouched; the failure goes to cb. */
    CHECK_STATUS(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, w, &err), IK_OK);
    CHECK(err == sentinel);
    CHECK_ASYNC(w, 20, IK_ERR_CONNECTION, NULL);
    waiter_free(w);
    ik_endpoint_free(e);
    ik_data_client_free(d2);
    ik_data_client_free(d);
    ik_management_client_free(m2);
    ik_management_client_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* Errors and the panic boundary                                                            */

static void test_error_accessors_reject_invalid_pointers(void) {
    int local = 0;
    ik_cancel *c = ik_cancel_new();
    ik_error *freed = NULL;
    char *s = NULL;
    const ik_error *bad[4];
    size_t i;
    CHECK_STATUS(ik_management_client_describe(NULL, &s, NULL, &freed), IK_ERR_NULL_ARG);
    ik_error_free(freed);
    bad[0] = NULL;
    bad[1] = (const ik_error *)&local;
    bad[2] = (const ik_error *)c;
    bad[3] = freed;
    for (i = 0; i < 4; i++) {
        CHECK_EQ_INT(ik_error_status(bad[i]), IK_ERR_UNKNOWN);
        CHECK_EQ_INT(ik_error_http_status(bad[i]), 0);
        CHECK(ik_error_code(bad[i]) != NULL && ik_error_code(bad[i])[0] == '\0');
        CHECK(ik_error_message(bad[i]) != NULL && ik_error_message(bad[i])[0] == '\0');
        CHECK(ik_error_request_id(bad[i]) == NULL);
        CHECK(ik_error_details_json(bad[i]) == NULL);
    }
    ik_cancel_free(c);
}

static void test_error_accessors_on_a_boundary_error(void) {
    ik_error *err = NULL;
    const char *code, *msg;
    CHECK_STATUS(ik_management_client_new(g_mcfg, strlen(g_mcfg), NULL, &err), IK_ERR_NULL_ARG);
    REQUIRE(err != NULL);
    CHECK_EQ_INT(ik_error_status(err), IK_ERR_NULL_ARG);
    CHECK_EQ_INT(ik_error_http_status(err), 0);
    code = ik_error_code(err);
    msg = ik_error_message(err);
    CHECK_STREQ(code, "null_argument");
    CHECK_CONTAINS(msg, "out");
    CHECK(ik_error_code(err) == code && ik_error_message(err) == msg); /* stable until freed */
    CHECK(ik_error_request_id(err) == NULL);
    CHECK(ik_error_details_json(err) == NULL);
    ik_error_free(err);
}

static void test_error_details_json_of_a_validation_error(void) {
    static const char req[] =
        "{\"spec\":{\"name\":\" \",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\"}}";
    ik_management_client *m = new_mgmt(g_mcfg);
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    REQUIRE(m);
    /* Local spec validation fails before any request (the port is closed). */
    CHECK_STATUS(ik_management_client_ensure(m, req, strlen(req), NULL, &out, &len, &err),
                 IK_ERR_VALIDATION);
    CHECK_UNTOUCHED("ensure", out, len);
    REQUIRE(err != NULL);
    CHECK_STREQ(ik_error_code(err), "empty_field");
    CHECK_CONTAINS(ik_error_details_json(err), "\"field\":\"name\"");
    CHECK_EQ_INT(ik_error_http_status(err), 0);
    ik_error_free(err);
    err = NULL;
    CHECK_ERR(ik_management_client_plan(m, req, strlen(req), NULL, &out, &len, &err), &err,
              IK_ERR_VALIDATION, "empty_field");
    ik_management_client_free(m);
}

static void test_panic_is_caught_at_the_boundary(void) {
    ik_error *err = NULL;
    ik_cancel *c;
    int i;
    for (i = 0; i < 3; i++) {
        CHECK_ERR(ik_test_force_panic(&err), &err, IK_ERR_PANIC, "internal_panic");
    }
    CHECK_STATUS(ik_test_force_panic(NULL), IK_ERR_PANIC);
    /* The library still works after panics (no poisoned registry, no aborted process). */
    c = ik_cancel_new();
    CHECK(c != NULL);
    CHECK_EQ_INT(ik_cancel_is_cancelled(c), 0);
    ik_cancel_free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Cancellation tokens                                                                      */

static void *cancel_hammer(void *arg) {
    ik_cancel *c = arg;
    int i;
    for (i = 0; i < 2000; i++) {
        ik_cancel_cancel(c);
        (void)ik_cancel_is_cancelled(c);
    }
    return NULL;
}

static void test_cancel_token_lifecycle_and_threads(void) {
    ik_cancel *a = ik_cancel_new(), *b = ik_cancel_new();
    pthread_t t[4];
    int i;
    REQUIRE(a && b && a != b);
    CHECK_EQ_INT(ik_cancel_is_cancelled(a), 0);
    ik_cancel_cancel(a);
    CHECK_EQ_INT(ik_cancel_is_cancelled(a), 1);
    ik_cancel_cancel(a); /* idempotent */
    CHECK_EQ_INT(ik_cancel_is_cancelled(a), 1);
    CHECK_EQ_INT(ik_cancel_is_cancelled(b), 0); /* independent */
    for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, cancel_hammer, b);
    for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK_EQ_INT(ik_cancel_is_cancelled(b), 1);
    ik_cancel_free(a);
    ik_cancel_free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* Logging                                                                                  */

struct log_sink {
    pthread_mutex_t mu;
    int records;
    int debug_records;
    int bad_level;
    char last[4096];
    char all_secrets_seen; /* a token secret appeared in a record */
};

static void log_cb(void *user_data, int32_t level, const char *json, size_t json_len) {
    struct log_sink *s = user_data;
    pthread_mutex_lock(&s->mu);
    s->records++;
    if (level == 4) s->debug_records++;
    if (level < 1 || level > 4) s->bad_level++;
    if (json == NULL || strlen(json) != json_len) s->bad_level++;
    if (json != NULL) {
        snprintf(s->last, sizeof s->last, "%s", json);
        if (strstr(json, SDK_SECRET) || strstr(json, LIVE_SECRET)) s->all_secrets_seen = 1;
    }
    pthread_mutex_unlock(&s->mu);
}

static void test_log_set_callback_argument_errors(void) {
    ik_error *err = NULL;
    struct log_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.mu, NULL);
    CHECK_ERR(ik_log_set_callback(5, log_cb, &sink, &err), &err, IK_ERR_INVALID_ARG,
              "invalid_level");
    CHECK_ERR(ik_log_set_callback(-1, log_cb, &sink, &err), &err, IK_ERR_INVALID_ARG,
              "invalid_level");
    CHECK_STATUS(ik_log_set_callback(99, log_cb, &sink, NULL), IK_ERR_INVALID_ARG);
    /* Turning logging off: level 0, or a NULL callback. */
    CHECK_OK(ik_log_set_callback(0, log_cb, &sink, &err), &err);
    CHECK_OK(ik_log_set_callback(4, NULL, NULL, &err), &err);
    CHECK_OK(ik_log_set_callback(0, NULL, NULL, NULL), &err);
    CHECK_EQ_INT(sink.records, 0);
    pthread_mutex_destroy(&sink.mu);
}

static void test_log_callback_receives_redacted_json_and_can_be_removed(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_error *err = NULL;
    char *out = NULL;
    struct log_sink sink;
    int after;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.mu, NULL);
    REQUIRE(m);

    /* Level 3 (info): the per-attempt HTTP record (debug) is not delivered. */
    REQUIRE_OK(ik_log_set_callback(3, log_cb, &sink, &err), &err);
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err, IK_ERR_CONNECTION,
              NULL);
    pthread_mutex_lock(&sink.mu);
    CHECK_EQ_INT(sink.debug_records, 0);
    pthread_mutex_unlock(&sink.mu);

    /* Level 4 (debug): a JSON record per HTTP attempt. */
    REQUIRE_OK(ik_log_set_callback(4, log_cb, &sink, &err), &err);
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err, IK_ERR_CONNECTION,
              NULL);
    pthread_mutex_lock(&sink.mu);
    CHECK(sink.debug_records >= 1);
    CHECK_EQ_INT(sink.bad_level, 0);
    CHECK_EQ_INT(sink.all_secrets_seen, 0);
    /* ABI 3: the level travels only as the callback's argument, not in the record. */
    CHECK_NOT_CONTAINS(sink.last, "\"level\"");
    CHECK_CONTAINS(sink.last, "\"target\":\"inferencekey.http\"");
    CHECK_CONTAINS(sink.last, "\"message\":");
    CHECK_CONTAINS(sink.last, "\"fields\":{");
    h_log("log record: %s", sink.last);
    after = sink.records;
    pthread_mutex_unlock(&sink.mu);

    /* Removed: nothing more arrives. */
    REQUIRE_OK(ik_log_set_callback(4, NULL, NULL, &err), &err);
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err, IK_ERR_CONNECTION,
              NULL);
    pthread_mutex_lock(&sink.mu);
    CHECK_EQ_INT(sink.records, after);
    pthread_mutex_unlock(&sink.mu);
    CHECK(out == NULL);
    ik_management_client_free(m);
    pthread_mutex_destroy(&sink.mu);
}

/* A log callback may call back into the library, here to remove itself. */
static atomic_int g_reentrant_records;
static void self_removing_log_cb(void *ud, int32_t level, const char *json, size_t len) {
    ik_error *err = NULL;
    ik_cancel *c;
    (void)ud, (void)level, (void)json, (void)len;
    atomic_fetch_add(&g_reentrant_records, 1);
    c = ik_cancel_new(); /* takes the handle registry's lock */
    ik_cancel_free(c);
    if (ik_log_set_callback(0, NULL, NULL, &err) != IK_OK) ik_error_free(err);
}

static void test_log_callback_may_reenter_the_library(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_error *err = NULL;
    char *out = NULL;
    int n;
    REQUIRE(m);
    atomic_store(&g_reentrant_records, 0);
    REQUIRE_OK(ik_log_set_callback(4, self_removing_log_cb, NULL, &err), &err);
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err, IK_ERR_CONNECTION,
              NULL);
    n = atomic_load(&g_reentrant_records);
    CHECK(n >= 1);
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err, IK_ERR_CONNECTION,
              NULL);
    CHECK_EQ_INT(atomic_load(&g_reentrant_records), n); /* it removed itself */
    ik_management_client_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* Client construction                                                                      */

struct cfg_case {
    const char *label;
    const char *cfg; /* NULL: the NULL pointer */
    size_t len;      /* 0 with a non-NULL cfg: strlen */
    ik_status status;
    const char *code;
    const char *message_has; /* NULL: not checked */
};

typedef ik_status (*new_fn)(const char *, size_t, void **, ik_error **);

static ik_status mgmt_new_any(const char *cfg, size_t len, void **out, ik_error **err) {
    return ik_management_client_new(cfg, len, (ik_management_client **)out, err);
}
static ik_status data_new_any(const char *cfg, size_t len, void **out, ik_error **err) {
    return ik_data_client_new(cfg, len, (ik_data_client **)out, err);
}

static void run_cfg_cases(const char *kind, new_fn fn, const struct cfg_case *cases, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        const struct cfg_case *k = &cases[i];
        size_t len = k->cfg && k->len == 0 ? strlen(k->cfg) : k->len;
        void *out = SENTINEL_STR;
        ik_error *err = NULL;
        char what[160];
        ik_status st;
        snprintf(what, sizeof what, "%s_new(%s)", kind, k->label);
        st = fn(k->cfg, len, &out, &err);
        if (k->message_has && err) CHECK_CONTAINS(ik_error_message(err), k->message_has);
        if (err && (strstr(ik_error_message(err), SDK_SECRET) ||
                    strstr(ik_error_message(err), LIVE_SECRET)))
            h_fail(__FILE__, __LINE__, "%s: the error message holds a token secret", what);
        CHECK_ERR_W(what, st, &err, k->status, k->code);
        CHECKF(out == (void *)SENTINEL_STR, "%s: *out written on failure", what);
        /* Without an err out-parameter: the same status, nothing else. */
        CHECKF(fn(k->cfg, len, &out, NULL) == k->status, "%s with err=NULL", what);
        CHECKF(out == (void *)SENTINEL_STR, "%s: *out written on failure", what);
    }
}

static void test_management_client_new_errors(void) {
    char unknown[512], live[512], noproj[512];
    static const char bad_utf8[] = "{\"base_url\":\"http://\xc0\xaf\"}";
    static const char nul[] = "{\"base_url\":\"http://a\0\"}";
    struct cfg_case cases[16];
    size_t n = 0;
    snprintf(unknown, sizeof unknown, "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"bogus_key\":1}",
             g_base, SDK_TOKEN);
    snprintf(live, sizeof live, "{\"base_url\":\"%s\",\"sdk_token\":\"%s\"}", g_base, LIVE_KEY);
    snprintf(noproj, sizeof noproj, "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"api_key\":\"%s\"}",
             g_base, SDK_TOKEN, LIVE_KEY);
    cases[n++] = (struct cfg_case){"NULL cfg", NULL, 5, IK_ERR_NULL_ARG, "null_argument", "cfg"};
    cases[n++] = (struct cfg_case){"invalid UTF-8", bad_utf8, 0, IK_ERR_INVALID_UTF8,
                                   "invalid_utf8", NULL};
    cases[n++] = (struct cfg_case){"interior NUL", nul, sizeof nul - 1, IK_ERR_INVALID_ARG,
                                   "interior_nul", NULL};
    cases[n++] = (struct cfg_case){"empty", "", 0, IK_ERR_INVALID_JSON, "invalid_json", NULL};
    cases[n++] = (struct cfg_case){"truncated", "{\"base_url\":", 0, IK_ERR_INVALID_JSON,
                                   "invalid_json", NULL};
    cases[n++] = (struct cfg_case){"array", "[]", 0, IK_ERR_INVALID_JSON, "invalid_json", NULL};
    cases[n++] = (struct cfg_case){"unknown key", unknown, 0, IK_ERR_INVALID_JSON,
                                   "invalid_json", "bogus_key"};
    cases[n++] = (struct cfg_case){"api_key", noproj, 0, IK_ERR_INVALID_JSON, NULL, "api_key"};
    cases[n++] = (struct cfg_case){"no token", "{\"base_url\":\"http://127.0.0.1:1\"}", 0,
                                   IK_ERR_CONFIG, "missing_token", NULL};
    cases[n++] = (struct cfg_case){"not a token",
                                   "{\"base_url\":\"http://127.0.0.1:1\",\"sdk_token\":\"nope\"}",
                                   0, IK_ERR_AUTH, "wrong_credential_type", NULL};
    cases[n++] = (struct cfg_case){"data key as sdk token", live, 0, IK_ERR_PERMISSION,
                                   "wrong_credential_type", NULL};
    cases[n++] = (struct cfg_case){"bad base_url",
                                   "{\"base_url\":\"ftp://x\",\"sdk_token\":\"" SDK_TOKEN "\"}", 0,
                                   IK_ERR_CONFIG, "invalid_base_url", NULL};
    cases[n++] = (struct cfg_case){"negative timeout",
                                   "{\"base_url\":\"http://a\",\"sdk_token\":\"" SDK_TOKEN
                                   "\",\"timeout_s\":-1}",
                                   0, IK_ERR_CONFIG, "invalid_option", NULL};
    cases[n++] = (struct cfg_case){"max_retries 11",
                                   "{\"base_url\":\"http://a\",\"sdk_token\":\"" SDK_TOKEN
                                   "\",\"max_retries\":11}",
                                   0, IK_ERR_CONFIG, "invalid_option", NULL};
    run_cfg_cases("ik_management_client", mgmt_new_any, cases, n);
    {
        ik_error *err = NULL;
        CHECK_ERR(ik_management_client_new(g_mcfg, strlen(g_mcfg), NULL, &err), &err,
                  IK_ERR_NULL_ARG, "null_argument");
    }
}

static void test_data_client_new_errors(void) {
    char sdk[512], noproj[512], unknown[512];
    struct cfg_case cases[8];
    size_t n = 0;
    snprintf(sdk, sizeof sdk, "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"project\":\"acme\"}",
             g_base, SDK_TOKEN);
    snprintf(noproj, sizeof noproj, "{\"base_url\":\"%s\",\"api_key\":\"%s\"}", g_base, LIVE_KEY);
    snprintf(unknown, sizeof unknown, "{\"base_url\":\"%s\",\"projekt\":\"acme\"}", g_base);
    cases[n++] = (struct cfg_case){"NULL cfg", NULL, 0, IK_ERR_NULL_ARG, "null_argument", NULL};
    cases[n++] = (struct cfg_case){"invalid UTF-8", "{\"project\":\"\xe2\x82\"}", 0,
                                   IK_ERR_INVALID_UTF8, "invalid_utf8", NULL};
    cases[n++] = (struct cfg_case){"JSON garbage", "{project}", 0, IK_ERR_INVALID_JSON,
                                   "invalid_json", NULL};
    cases[n++] = (struct cfg_case){"unknown key", unknown, 0, IK_ERR_INVALID_JSON,
                                   "invalid_json", "projekt"};
    cases[n++] = (struct cfg_case){"sdk_token", sdk, 0, IK_ERR_INVALID_JSON, NULL, "sdk_token"};
    cases[n++] = (struct cfg_case){"no project", noproj, 0, IK_ERR_CONFIG, "missing_project",
                                   NULL};
    cases[n++] = (struct cfg_case){"no base_url scheme",
                                   "{\"base_url\":\"localhost\",\"project\":\"acme\"}", 0,
                                   IK_ERR_CONFIG, "invalid_base_url", NULL};
    run_cfg_cases("ik_data_client", data_new_any, cases, n);
    {
        ik_error *err = NULL;
        CHECK_ERR(ik_data_client_new(g_dcfg, strlen(g_dcfg), NULL, &err), &err, IK_ERR_NULL_ARG,
                  "null_argument");
    }
}

static void test_invalid_utf8_variants(void) {
    static const char *variants[] = {
        "\"\x80\"",         /* lone continuation byte */
        "\"\xc0\xaf\"",     /* overlong encoding */
        "\"\xe2\x82\"",     /* truncated sequence */
        "\"\xed\xa0\x80\"", /* UTF-16 surrogate */
        "\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xff\"",
    };
    size_t i;
    for (i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        ik_management_client *out = (ik_management_client *)SENTINEL_STR;
        ik_error *err = NULL;
        CHECK_ERR_W("invalid UTF-8 cfg",
                    ik_management_client_new(variants[i], strlen(variants[i]), &out, &err), &err,
                    IK_ERR_INVALID_UTF8, "invalid_utf8");
        CHECK(out == (ik_management_client *)SENTINEL_STR);
    }
}

static void test_inputs_need_no_terminator(void) {
    /* Exact-size heap copies: reading one byte past `len` is a heap-buffer-overflow (ASan). */
    size_t n = strlen(g_mcfg);
    char *cfg = malloc(n), *req = malloc(2);
    ik_management_client *m = NULL;
    ik_error *err = NULL;
    char *out = NULL;
    REQUIRE(cfg && req);
    memcpy(cfg, g_mcfg, n);
    memcpy(req, "{}", 2);
    if (CHECK_OK(ik_management_client_new(cfg, n, &m, &err), &err)) {
        CHECK_ERR(ik_management_client_list(m, req, 2, NULL, &out, NULL, &err), &err, IK_ERR_CONNECTION,
                  NULL);
        /* Only `len` bytes count: "{}" followed by garbage. */
        CHECK_ERR(ik_management_client_list(m, "{}garbage", 2, NULL, &out, NULL, &err), &err,
                  IK_ERR_CONNECTION, NULL);
        CHECK_ERR(ik_management_client_list(m, "{}garbage", 9, NULL, &out, NULL, &err), &err,
                  IK_ERR_INVALID_JSON, "invalid_json");
    }
    ik_management_client_free(m);
    free(cfg);
    free(req);
}

static void test_management_client_describe_and_with_options(void) {
    ik_management_client *m = new_mgmt(g_mcfg), *m2 = (ik_management_client *)SENTINEL_STR;
    ik_data_client *d = new_data(g_dcfg);
    ik_error *err = NULL;
    char *out = NULL;
    size_t len = 0;
    REQUIRE(m && d);
    REQUIRE_OK(ik_management_client_describe(m, &out, &len, &err), &err);
    CHECK_EQ_INT(len, strlen(out));
    CHECK_CONTAINS(out, g_base);
    CHECK_CONTAINS(out, "ik_sdk_pub12345");
    CHECK_NOT_CONTAINS(out, SDK_SECRET);
    CHECK_CONTAINS(out, "\"project\":\"acme\"");
    ik_buffer_free(out);
    out = NULL;
    REQUIRE_OK(ik_management_client_describe(m, &out, NULL, &err), &err); /* out_len optional */
    ik_buffer_free(out);
    out = SENTINEL_STR;
    CHECK_ERR(ik_management_client_describe(m, NULL, &len, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_management_client_describe(NULL, &out, &len, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_management_client_describe((ik_management_client *)d, &out, &len, &err), &err,
              IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK(out == SENTINEL_STR);

    CHECK_ERR(ik_management_client_with_options(m, NULL, 2, &m2, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_management_client_with_options(NULL, LIT("{}"), &m2, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_management_client_with_options(m, LIT("{}"), NULL, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_management_client_with_options(m, LIT("{\"timeout\":1}"), &m2, &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_management_client_with_options(m, LIT("{\"timeout_s\":0}"), &m2, &err), &err,
              IK_ERR_CONFIG, "invalid_option");
    CHECK_ERR(ik_management_client_with_options(m, LIT("{\"max_retries\":99}"), &m2, &err), &err,
              IK_ERR_CONFIG, "invalid_option");
    CHECK_ERR(ik_management_client_with_options(m, LIT("\xff"), &m2, &err), &err,
              IK_ERR_INVALID_UTF8, "invalid_utf8");
    CHECK(m2 == (ik_management_client *)SENTINEL_STR);
    m2 = NULL;
    REQUIRE_OK(ik_management_client_with_options(m, LIT("{\"timeout_s\":1.5,\"max_retries\":0}"),
                                                 &m2, &err),
               &err);
    REQUIRE(m2 != NULL && m2 != m);
    /* The original may go first: the copy shares credentials and pool, not the handle. */
    ik_management_client_free(m);
    REQUIRE_OK(ik_management_client_describe(m2, &out, &len, &err), &err);
    CHECK_NOT_CONTAINS(out, SDK_SECRET);
    ik_buffer_free(out);
    ik_management_client_free(m2);
    ik_data_client_free(d);
}

static void test_data_client_describe_and_with_options(void) {
    ik_data_client *d = new_data(g_dcfg), *d2 = (ik_data_client *)SENTINEL_STR;
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    REQUIRE(d && m);
    REQUIRE_OK(ik_data_client_describe(d, &out, &len, &err), &err);
    CHECK_EQ_INT(len, strlen(out));
    CHECK_CONTAINS(out, g_base);
    CHECK_CONTAINS(out, "\"project\":\"acme\"");
    CHECK_NOT_CONTAINS(out, LIVE_SECRET);
    ik_buffer_free(out);
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    CHECK_ERR(ik_data_client_describe(d, NULL, NULL, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_data_client_describe((ik_data_client *)m, &out, &len, &err), &err,
              IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_UNTOUCHED("ik_data_client_describe", out, len);

    CHECK_ERR(ik_data_client_with_options(NULL, LIT("{}"), &d2, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_data_client_with_options(d, NULL, 0, &d2, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_data_client_with_options(d, LIT("{}"), NULL, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_data_client_with_options(d, LIT("{\"x\":1}"), &d2, &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_data_client_with_options(d, LIT("{\"connect_timeout_s\":-2}"), &d2, &err), &err,
              IK_ERR_CONFIG, "invalid_option");
    CHECK(d2 == (ik_data_client *)SENTINEL_STR);
    d2 = NULL;
    REQUIRE_OK(ik_data_client_with_options(d, LIT("{\"connect_timeout_s\":2}"), &d2, &err), &err);
    REQUIRE(d2 != NULL && d2 != d);
    ik_data_client_free(d2);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

static void test_endpoint_new_and_describe(void) {
    char cfg_nokey[256];
    ik_data_client *d = new_data(g_dcfg), *nokey;
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_endpoint *e = (ik_endpoint *)SENTINEL_STR;
    ik_error *err = NULL;
    char *out = NULL;
    size_t len = 0;
    static const char explicit_req[] = "{\"workload_slug\":\"bot\",\"api_key\":\"" LIVE_KEY "\"}";
    static const char sdk_req[] = "{\"workload_slug\":\"bot\",\"api_key\":\"" SDK_TOKEN "\"}";
    snprintf(cfg_nokey, sizeof cfg_nokey, "{\"base_url\":\"%s\",\"project\":\"acme\"}", g_base);
    nokey = new_data(cfg_nokey);
    REQUIRE(d && m && nokey);

    CHECK_ERR(ik_endpoint_new(NULL, LIT("{\"workload_slug\":\"bot\"}"), &e, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_new((ik_data_client *)m, LIT("{\"workload_slug\":\"bot\"}"), &e, &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_ERR(ik_endpoint_new(d, LIT("{\"workload_slug\":\"bot\"}"), NULL, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_new(d, NULL, 24, &e, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_new(d, LIT("{\"workload_slug\":\"b\xf0\"}"), &e, &err), &err,
              IK_ERR_INVALID_UTF8, "invalid_utf8");
    CHECK_ERR(ik_endpoint_new(d, LIT("{\"slug\":\"bot\"}"), &e, &err), &err, IK_ERR_INVALID_JSON,
              "invalid_json");
    CHECK_ERR(ik_endpoint_new(d, LIT("{}"), &e, &err), &err, IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_endpoint_new(d, LIT("{\"workload_slug\":\"Not A Slug\"}"), &e, &err), &err,
              IK_ERR_VALIDATION, NULL);
    CHECK_ERR(ik_endpoint_new(nokey, LIT("{\"workload_slug\":\"bot\"}"), &e, &err), &err,
              IK_ERR_CONFIG, "missing_api_key");
    CHECK_ERR(ik_endpoint_new(d, sdk_req, strlen(sdk_req), &e, &err), &err, IK_ERR_PERMISSION,
              "wrong_credential_type");
    CHECK_ERR(ik_endpoint_new(d, LIT("{\"workload_slug\":\"bot\",\"api_key\":\"junk\"}"), &e, &err),
              &err, IK_ERR_AUTH, "wrong_credential_type");
    CHECK(e == (ik_endpoint *)SENTINEL_STR);

    e = NULL;
    REQUIRE_OK(ik_endpoint_new(nokey, explicit_req, strlen(explicit_req), &e, &err), &err);
    REQUIRE_OK(ik_endpoint_describe(e, &out, &len, &err), &err);
    CHECK_EQ_INT(len, strlen(out));
    CHECK_CONTAINS(out, "\"workload_slug\":\"bot\"");
    CHECK_CONTAINS(out, "\"project_slug\":\"acme\"");
    CHECK_CONTAINS(out, "ik_live_pub67890");
    CHECK_NOT_CONTAINS(out, LIVE_SECRET);
    ik_buffer_free(out);
    out = SENTINEL_STR;
    CHECK_ERR(ik_endpoint_describe(e, NULL, &len, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_describe(NULL, &out, &len, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_endpoint_describe((ik_endpoint *)d, &out, &len, &err), &err, IK_ERR_INVALID_HANDLE,
              "invalid_handle");
    CHECK(out == SENTINEL_STR);
    /* The endpoint outlives its client (it keeps its own reference). */
    ik_data_client_free(nokey);
    REQUIRE_OK(ik_endpoint_describe(e, &out, NULL, &err), &err);
    ik_buffer_free(out);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

static void test_workload_spec_validate(void) {
    ik_error *err = NULL;
    static const char ok[] =
        "{\"name\":\"Bot\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\","
        "\"command\":\"vllm serve m\",\"task_type\":\"text2text\"}";
    static const char secret[] =
        "{\"name\":\"Bot\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\","
        "\"command\":\"serve --key " LIVE_KEY "\"}";
    CHECK_OK(ik_workload_spec_validate(LIT(ok), &err), &err);
    CHECK(err == NULL);
    CHECK_STATUS(ik_workload_spec_validate(LIT(ok), NULL), IK_OK);
    CHECK_ERR(ik_workload_spec_validate(NULL, 4, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_workload_spec_validate(LIT("{\"name\":\"\xff\"}"), &err), &err,
              IK_ERR_INVALID_UTF8, "invalid_utf8");
    CHECK_ERR(ik_workload_spec_validate(LIT("{}\0"), &err), &err, IK_ERR_INVALID_ARG,
              "interior_nul");
    CHECK_ERR(ik_workload_spec_validate(LIT("{\"name\":"), &err), &err, IK_ERR_INVALID_JSON,
              "invalid_json");
    CHECK_ERR(ik_workload_spec_validate(LIT("{\"nmae\":\"x\"}"), &err), &err, IK_ERR_INVALID_JSON,
              "invalid_json");
    /* The first failing rule wins, and names its field. */
    CHECK_STATUS(ik_workload_spec_validate(LIT("{\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\"}"),
                                           &err),
                 IK_ERR_VALIDATION);
    if (err) CHECK_CONTAINS(ik_error_details_json(err), "\"field\":\"name\"");
    CHECK_ERR(IK_ERR_VALIDATION, &err, IK_ERR_VALIDATION, "empty_field");
    CHECK_ERR(ik_workload_spec_validate(LIT("{\"name\":\"B\",\"slug\":\"Not A Slug\",\"model\":"
                                            "\"m\",\"backend\":\"vllm\"}"),
                                        &err),
              &err, IK_ERR_VALIDATION, NULL);
    CHECK_ERR(ik_workload_spec_validate(LIT("{\"name\":\"B\",\"slug\":\"b\",\"model\":\"m\","
                                            "\"backend\":\"vllm\",\"task_type\":\"poetry\"}"),
                                        &err),
              &err, IK_ERR_VALIDATION, "invalid_field");
    /* A token in a spec: a configuration error that never echoes the token. */
    CHECK_STATUS(ik_workload_spec_validate(LIT(secret), &err), IK_ERR_CONFIG);
    if (err) {
        CHECK_NOT_CONTAINS(ik_error_message(err), LIVE_SECRET);
        CHECK_NOT_CONTAINS(ik_error_details_json(err), LIVE_SECRET);
    }
    CHECK_ERR(IK_ERR_CONFIG, &err, IK_ERR_CONFIG, "secret_in_spec");
}

/* The live-object counts for one key of ik_live_objects' JSON; -1 on failure. */
static long live_count(const char *key) {
    ik_error *err = NULL;
    char *out = NULL;
    size_t len = 0;
    if (!CHECK_OK(ik_live_objects(&out, &len, &err), &err)) return -1;
    CHECK_EQ_INT(len, strlen(out));
    long n = json_int(out, key);
    ik_buffer_free(out);
    return n;
}

static void test_live_objects_counts_handles_and_buffers(void) {
    ik_error *err = NULL;
    CHECK_STATUS(ik_live_objects(NULL, NULL, &err), IK_ERR_NULL_ARG);
    CHECK_ERR(IK_ERR_NULL_ARG, &err, IK_ERR_NULL_ARG, NULL);
    long cancels = live_count("\"ik_cancel\":");
    long buffers = live_count("\"buffers\":");
    CHECK(cancels >= 0 && buffers >= 0);
    CHECK(live_count("\"ik_dev_server\":") >= 0); /* every kind is listed */
    ik_cancel *a = ik_cancel_new(), *b = ik_cancel_new();
    char *redacted = NULL;
    CHECK_OK(ik_token_redact(LIT(LIVE_KEY), &redacted, NULL, &err), &err);
    CHECK_EQ_INT(live_count("\"ik_cancel\":"), cancels + 2);
    CHECK_EQ_INT(live_count("\"buffers\":"), buffers + 1);
    ik_cancel_free(a);
    ik_cancel_free(b);
    ik_cancel_free(b); /* ignored: counted once */
    ik_buffer_free(redacted);
    CHECK_EQ_INT(live_count("\"ik_cancel\":"), cancels);
    CHECK_EQ_INT(live_count("\"buffers\":"), buffers);
}

static void test_text_and_token_redact(void) {
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    /* Plain text in, plain text out (the full vectors: tests/conformance/redaction.json, replayed
       by the Rust and Python tests). */
    static const char text[] = "key " SDK_TOKEN ". \"" LIVE_KEY "\\n\" an ik_sdk_ token";
    static const char shown[] =
        "key ik_sdk_pub12345\u2026. \"ik_live_pub67890\u2026\\n\" an ik_sdk_ token";
    if (CHECK_OK(ik_text_redact(LIT(text), &out, &len, &err), &err)) {
        CHECK_STREQ(out, shown);
        CHECK_EQ_INT(len, sizeof(shown) - 1);
        ik_buffer_free(out);
    }
    out = SENTINEL_STR;
    if (CHECK_OK(ik_text_redact("", 0, &out, NULL, &err), &err)) {
        CHECK_STREQ(out, "");
        ik_buffer_free(out);
    }
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    if (CHECK_OK(ik_token_redact(LIT("  " LIVE_KEY "\n"), &out, &len, &err), &err)) {
        CHECK_STREQ(out, "ik_live_pub67890\u2026");
        ik_buffer_free(out);
    }
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    if (CHECK_OK(ik_token_redact(LIT("sk-other"), &out, &len, &err), &err)) {
        CHECK_STREQ(out, "<redacted>");
        ik_buffer_free(out);
    }
    /* Argument errors leave the out-parameters untouched (c-abi rule 8). */
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    CHECK_ERR(ik_text_redact(NULL, 3, &out, &len, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_text_redact(LIT("a\xff"), &out, &len, &err), &err, IK_ERR_INVALID_UTF8,
              "invalid_utf8");
    CHECK_ERR(ik_text_redact(LIT("a\0b"), &out, &len, &err), &err, IK_ERR_INVALID_ARG,
              "interior_nul");
    CHECK_ERR(ik_token_redact(NULL, 3, &out, &len, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_token_redact(LIT("ik_sdk_\xff"), &out, &len, &err), &err, IK_ERR_INVALID_UTF8,
              "invalid_utf8");
    CHECK_UNTOUCHED("redact", out, len);
    CHECK_ERR(ik_text_redact(LIT("x"), NULL, &len, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_token_redact(LIT("x"), NULL, &len, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_STATUS(ik_text_redact(NULL, 0, &out, &len, NULL), IK_ERR_NULL_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* Operations: argument errors                                                              */

typedef ik_status (*mgmt_fn)(const ik_management_client *, const char *, size_t,
                             const ik_cancel *, char **, size_t *, ik_error **);
typedef ik_status (*mgmt_async_fn)(const ik_management_client *, const char *, size_t,
                                   const ik_cancel *, ik_callback, void *, ik_error **);
typedef ik_status (*ep_fn)(const ik_endpoint *, const char *, size_t, const ik_cancel *, char **,
                           size_t *, ik_error **);
typedef ik_status (*ep_async_fn)(const ik_endpoint *, const char *, size_t, const ik_cancel *,
                                 ik_callback, void *, ik_error **);

/* ik_management_client_wait_until_ready without `on_event`, in the shape of the other
 * operations (the event callback has tests of its own). */
static ik_status wait_blocking(const ik_management_client *c, const char *req, size_t len,
                               const ik_cancel *cancel, char **out, size_t *out_len,
                               ik_error **err) {
    return ik_management_client_wait_until_ready(c, req, len, cancel, NULL, NULL, out, out_len,
                                                 err);
}
static ik_status wait_async(const ik_management_client *c, const char *req, size_t len,
                            const ik_cancel *cancel, ik_callback cb, void *ud, ik_error **err) {
    return ik_management_client_wait_until_ready_async(c, req, len, cancel, NULL, NULL, cb, ud,
                                                       err);
}

static const struct mgmt_op {
    const char *name;
    mgmt_fn fn;
    mgmt_async_fn afn;
    const char *req;
} MGMT_OPS[] = {
    {"ensure", ik_management_client_ensure, ik_management_client_ensure_async, ENSURE_REQ},
    {"plan", ik_management_client_plan, ik_management_client_plan_async, ENSURE_REQ},
    {"list", ik_management_client_list, ik_management_client_list_async, "{\"project\":null}"},
    {"get", ik_management_client_get, ik_management_client_get_async, "{\"workload_slug\":\"bot\"}"},
    {"delete", ik_management_client_delete, ik_management_client_delete_async, "{\"workload_slug\":\"bot\"}"},
    {"wait_until_ready", wait_blocking, wait_async, "{\"workload_slug\":\"bot\",\"timeout_s\":3}"},
};
#define N_MGMT_OPS (sizeof MGMT_OPS / sizeof MGMT_OPS[0])

static const struct ep_op {
    const char *name;
    ep_fn fn;
    ep_async_fn afn;
    const char *req;
} EP_OPS[] = {
    {"generate_text", ik_endpoint_generate_text, ik_endpoint_generate_text_async,
     "{\"prompt\":\"Hi\",\"max_tokens\":8,\"temperature\":0}"},
    {"embed", ik_endpoint_embed, ik_endpoint_embed_async, "{\"input\":[\"a\",\"b\"]}"},
    {"rerank", ik_endpoint_rerank, ik_endpoint_rerank_async,
     "{\"query\":\"q\",\"documents\":[\"a\",\"b\"]}"},
    {"submit_job", ik_endpoint_submit_job, ik_endpoint_submit_job_async,
     "{\"kind\":\"embeddings\",\"body\":{\"input\":[\"a\"]},\"context\":{\"n\":1}}"},
};
#define N_EP_OPS (sizeof EP_OPS / sizeof EP_OPS[0])

/* The argument matrix of one blocking operation: `call` runs it with the given arguments. */
typedef ik_status (*blocking_call)(const void *op, const void *handle, const char *req,
                                   size_t len, const ik_cancel *cancel, char **out,
                                   size_t *out_len, ik_error **err);

static ik_status call_mgmt(const void *op, const void *h, const char *req, size_t len,
                           const ik_cancel *c, char **out, size_t *out_len, ik_error **err) {
    return ((const struct mgmt_op *)op)->fn(h, req, len, c, out, out_len, err);
}
static ik_status call_ep(const void *op, const void *h, const char *req, size_t len,
                         const ik_cancel *c, char **out, size_t *out_len, ik_error **err) {
    return ((const struct ep_op *)op)->fn(h, req, len, c, out, out_len, err);
}

static void blocking_argument_matrix(const char *name, blocking_call call, const void *op,
                                     const void *handle, const void *wrong_kind,
                                     const void *freed, const char *good_req) {
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN, i;
    ik_error *err = NULL;
    int local = 0;
    char what[192];
    size_t glen = strlen(good_req);
    const void *bad_handles[4];
    const char *bad_handle_names[4] = {"NULL handle", "stack pointer", "wrong-family handle",
                                       "freed handle"};
    bad_handles[0] = NULL;
    bad_handles[1] = &local;
    bad_handles[2] = wrong_kind;
    bad_handles[3] = freed;
    for (i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "%s(%s)", name, bad_handle_names[i]);
        CHECK_ERR_W(what, call(op, bad_handles[i], good_req, glen, NULL, &out, &len, &err), &err,
                    i == 0 ? IK_ERR_NULL_ARG : IK_ERR_INVALID_HANDLE,
                    i == 0 ? "null_argument" : "invalid_handle");
        CHECK_UNTOUCHED(what, out, len);
    }
    for (i = 0; i < N_BAD_REQS; i++) {
        const struct bad_req *b = &BAD_REQS[i];
        snprintf(what, sizeof what, "%s(%s)", name, b->label);
        CHECK_ERR_W(what, call(op, handle, b->ptr, b->len, NULL, &out, &len, &err), &err,
                    b->status, b->code);
        CHECK_UNTOUCHED(what, out, len);
        CHECKF(call(op, handle, b->ptr, b->len, NULL, &out, &len, NULL) == b->status,
               "%s with err=NULL", what);
    }
    snprintf(what, sizeof what, "%s(NULL out)", name);
    CHECK_ERR_W(what, call(op, handle, good_req, glen, NULL, NULL, &len, &err), &err,
                IK_ERR_NULL_ARG, "null_argument");
    snprintf(what, sizeof what, "%s(foreign cancel)", name);
    CHECK_ERR_W(what,
                call(op, handle, good_req, glen, (const ik_cancel *)&local, &out, &len, &err),
                &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    snprintf(what, sizeof what, "%s(handle as cancel)", name);
    CHECK_ERR_W(what,
                call(op, handle, good_req, glen, (const ik_cancel *)handle, &out, &len, &err),
                &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_UNTOUCHED(what, out, len);
}

typedef ik_status (*async_call)(const void *op, const void *handle, const char *req, size_t len,
                                const ik_cancel *cancel, ik_callback cb, void *ud,
                                ik_error **err);

static ik_status acall_mgmt(const void *op, const void *h, const char *req, size_t len,
                            const ik_cancel *c, ik_callback cb, void *ud, ik_error **err) {
    return ((const struct mgmt_op *)op)->afn(h, req, len, c, cb, ud, err);
}
static ik_status acall_ep(const void *op, const void *h, const char *req, size_t len,
                          const ik_cancel *c, ik_callback cb, void *ud, ik_error **err) {
    return ((const struct ep_op *)op)->afn(h, req, len, c, cb, ud, err);
}

/* Argument errors of an `_async` export return a status; the callback must never run. */
static void async_argument_matrix(const char *name, async_call call, const void *op,
                                  const void *handle, const void *wrong_kind, const char *good_req,
                                  waiter *w) {
    ik_error *err = NULL;
    int local = 0;
    size_t i, glen = strlen(good_req);
    char what[192];
    snprintf(what, sizeof what, "%s(NULL handle)", name);
    CHECK_ERR_W(what, call(op, NULL, good_req, glen, NULL, waiter_cb, w, &err), &err,
                IK_ERR_NULL_ARG, "null_argument");
    snprintf(what, sizeof what, "%s(wrong-family handle)", name);
    CHECK_ERR_W(what, call(op, wrong_kind, good_req, glen, NULL, waiter_cb, w, &err), &err,
                IK_ERR_INVALID_HANDLE, "invalid_handle");
    snprintf(what, sizeof what, "%s(stack handle)", name);
    CHECK_ERR_W(what, call(op, &local, good_req, glen, NULL, waiter_cb, w, &err), &err,
                IK_ERR_INVALID_HANDLE, "invalid_handle");
    snprintf(what, sizeof what, "%s(NULL cb)", name);
    CHECK_ERR_W(what, call(op, handle, good_req, glen, NULL, NULL, w, &err), &err,
                IK_ERR_NULL_ARG, "null_argument");
    snprintf(what, sizeof what, "%s(foreign cancel)", name);
    CHECK_ERR_W(what,
                call(op, handle, good_req, glen, (const ik_cancel *)&local, waiter_cb, w, &err),
                &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    for (i = 0; i < N_BAD_REQS; i++) {
        const struct bad_req *b = &BAD_REQS[i];
        snprintf(what, sizeof what, "%s(%s)", name, b->label);
        CHECK_ERR_W(what, call(op, handle, b->ptr, b->len, NULL, waiter_cb, w, &err), &err,
                    b->status, b->code);
        CHECKF(call(op, handle, b->ptr, b->len, NULL, waiter_cb, w, NULL) == b->status,
               "%s with err=NULL", what);
    }
}

static void test_management_operations_reject_bad_arguments(void) {
    ik_management_client *m = new_mgmt(g_mcfg), *freed = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    waiter *w = waiter_new();
    size_t i;
    REQUIRE(m && d && freed);
    ik_management_client_free(freed);
    for (i = 0; i < N_MGMT_OPS; i++) {
        char name[96];
        snprintf(name, sizeof name, "ik_management_client_%s", MGMT_OPS[i].name);
        blocking_argument_matrix(name, call_mgmt, &MGMT_OPS[i], m, d, freed, MGMT_OPS[i].req);
        snprintf(name, sizeof name, "ik_management_client_%s_async", MGMT_OPS[i].name);
        async_argument_matrix(name, acall_mgmt, &MGMT_OPS[i], m, d, MGMT_OPS[i].req, w);
    }
    sleep_ms(100);
    CHECKF(waiter_calls(w) == 0, "a callback ran after an argument error (%d calls)",
           waiter_calls(w));
    waiter_free(w);
    ik_management_client_free(m);
    ik_data_client_free(d);
}

static void test_endpoint_operations_reject_bad_arguments(void) {
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL, *freed = d ? new_endpoint(d, "bot") : NULL;
    waiter *w = waiter_new();
    size_t i;
    REQUIRE(d && e && freed);
    ik_endpoint_free(freed);
    for (i = 0; i < N_EP_OPS; i++) {
        char name[96];
        snprintf(name, sizeof name, "ik_endpoint_%s", EP_OPS[i].name);
        blocking_argument_matrix(name, call_ep, &EP_OPS[i], e, d, freed, EP_OPS[i].req);
        snprintf(name, sizeof name, "ik_endpoint_%s_async", EP_OPS[i].name);
        async_argument_matrix(name, acall_ep, &EP_OPS[i], e, d, EP_OPS[i].req, w);
    }
    /* The `options` key is split off and checked strictly too. */
    {
        ik_error *err = NULL;
        char *out = SENTINEL_STR;
        size_t len = SENTINEL_LEN;
        static const char bad_opts[] = "{\"prompt\":\"Hi\",\"options\":{\"retries\":1}}";
        static const char neg_opts[] = "{\"prompt\":\"Hi\",\"options\":{\"timeout_s\":-1}}";
        CHECK_ERR(ik_endpoint_generate_text(e, bad_opts, strlen(bad_opts), NULL, &out, &len, &err),
                  &err, IK_ERR_INVALID_JSON, "invalid_json");
        CHECK_ERR(ik_endpoint_generate_text(e, neg_opts, strlen(neg_opts), NULL, &out, &len, &err),
                  &err, IK_ERR_CONFIG, "invalid_option");
        CHECK_UNTOUCHED("generate_text(options)", out, len);
    }
    sleep_ms(100);
    CHECKF(waiter_calls(w) == 0, "a callback ran after an argument error (%d calls)",
           waiter_calls(w));
    waiter_free(w);
    ik_endpoint_free(e);
    ik_data_client_free(d);
}

/* Stream-opening exports: blocking and `_async` argument errors. */
static void test_stream_open_operations_reject_bad_arguments(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_stream *s = (ik_stream *)SENTINEL_STR;
    ik_error *err = NULL;
    waiter *w = waiter_new();
    int local = 0;
    size_t i;
    static const char rreq[] = "{\"workload_slug\":\"bot\",\"timeout_s\":2}";
    static const char greq[] = "{\"prompt\":\"Hi\"}";
    REQUIRE(m && d && e);

    CHECK_ERR(ik_management_client_readiness_events(NULL, rreq, strlen(rreq), NULL, &s, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_management_client_readiness_events((ik_management_client *)d, rreq, strlen(rreq), NULL,
                                             &s, &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_ERR(ik_management_client_readiness_events(m, rreq, strlen(rreq), NULL, NULL, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_management_client_readiness_events(m, rreq, strlen(rreq), (ik_cancel *)&local, &s, &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_ERR(ik_management_client_readiness_events_async(m, rreq, strlen(rreq), NULL, NULL, waiter_cb, w,
                                                   &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_management_client_readiness_events_async(m, rreq, strlen(rreq), NULL, &s, NULL, w, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_management_client_readiness_events_async(NULL, rreq, strlen(rreq), NULL, &s, waiter_cb,
                                                   w, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_management_client_readiness_events_async(m, rreq, strlen(rreq), (ik_cancel *)&local, &s,
                                                   waiter_cb, w, &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_ERR(ik_endpoint_generate_text_stream(NULL, greq, strlen(greq), NULL, &s, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_generate_text_stream((ik_endpoint *)m, greq, strlen(greq), NULL, &s,
                                               &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_ERR(ik_endpoint_generate_text_stream(e, greq, strlen(greq), NULL, NULL, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_generate_text_stream_async(e, greq, strlen(greq), NULL, NULL, waiter_cb,
                                                     w, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_generate_text_stream_async(e, greq, strlen(greq), NULL, &s, NULL, w,
                                                     &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_endpoint_generate_text_stream_async(NULL, greq, strlen(greq), NULL, &s, waiter_cb,
                                                     w, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    for (i = 0; i < N_BAD_REQS; i++) {
        const struct bad_req *b = &BAD_REQS[i];
        char what[160];
        snprintf(what, sizeof what, "ik_management_client_readiness_events(%s)", b->label);
        CHECK_ERR_W(what, ik_management_client_readiness_events(m, b->ptr, b->len, NULL, &s, &err), &err,
                    b->status, b->code);
        snprintf(what, sizeof what, "ik_management_client_readiness_events_async(%s)", b->label);
        CHECK_ERR_W(what,
                    ik_management_client_readiness_events_async(m, b->ptr, b->len, NULL, &s, waiter_cb,
                                                         w, &err),
                    &err, b->status, b->code);
        snprintf(what, sizeof what, "ik_endpoint_generate_text_stream(%s)", b->label);
        CHECK_ERR_W(what, ik_endpoint_generate_text_stream(e, b->ptr, b->len, NULL, &s, &err),
                    &err, b->status, b->code);
        snprintf(what, sizeof what, "ik_endpoint_generate_text_stream_async(%s)", b->label);
        CHECK_ERR_W(what,
                    ik_endpoint_generate_text_stream_async(e, b->ptr, b->len, NULL, &s, waiter_cb,
                                                           w, &err),
                    &err, b->status, b->code);
    }
    CHECK(s == (ik_stream *)SENTINEL_STR);
    sleep_ms(100);
    CHECK_EQ_INT(waiter_calls(w), 0);
    waiter_free(w);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

static void test_stream_functions_reject_invalid_streams(void) {
    ik_cancel *c = ik_cancel_new();
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    int local = 0;
    waiter *w = waiter_new();
    const ik_stream *bad[3];
    size_t i;
    bad[0] = NULL;
    bad[1] = (const ik_stream *)&local;
    bad[2] = (const ik_stream *)c;
    for (i = 0; i < 3; i++) {
        ik_status want = i == 0 ? IK_ERR_NULL_ARG : IK_ERR_INVALID_HANDLE;
        const char *code = i == 0 ? "null_argument" : "invalid_handle";
        CHECK_ERR(ik_stream_next((ik_stream *)bad[i], &out, &len, &err), &err, want, code);
        CHECK_ERR(ik_stream_next_async((ik_stream *)bad[i], NULL, waiter_cb, w, &err), &err, want,
                  code);
        CHECK_ERR(ik_stream_metadata(bad[i], &out, &len, &err), &err, want, code);
        CHECK_STATUS(ik_stream_next((ik_stream *)bad[i], &out, &len, NULL), want);
        ik_stream_close((ik_stream *)bad[i]);
        ik_stream_free((ik_stream *)bad[i]);
    }
    CHECK_UNTOUCHED("stream functions", out, len);
    CHECK_EQ_INT(ik_cancel_is_cancelled(c), 0); /* closing a cancel "as a stream" did nothing */
    sleep_ms(50);
    CHECK_EQ_INT(waiter_calls(w), 0);
    waiter_free(w);
    ik_cancel_free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Connection errors, cancellation, async completion                                        */

static void test_every_operation_reports_connection_refused(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_stream *s = (ik_stream *)SENTINEL_STR;
    ik_error *err = NULL;
    size_t i;
    REQUIRE(m && d && e);
    for (i = 0; i < N_MGMT_OPS; i++) {
        char *out = SENTINEL_STR;
        size_t len = SENTINEL_LEN;
        const struct mgmt_op *op = &MGMT_OPS[i];
        ik_status st = op->fn(m, op->req, strlen(op->req), NULL, &out, &len, &err);
        /* wait_until_ready keeps reconnecting until its deadline. */
        ik_status expected = op->fn == wait_blocking ? IK_ERR_READINESS_TIMEOUT
                                                                      : IK_ERR_CONNECTION;
        if (err) CHECK_EQ_INT(ik_error_http_status(err), 0);
        CHECK_ERR_W(op->name, st, &err, expected, NULL);
        CHECK_UNTOUCHED(op->name, out, len);
    }
    for (i = 0; i < N_EP_OPS; i++) {
        char *out = SENTINEL_STR;
        size_t len = SENTINEL_LEN;
        const struct ep_op *op = &EP_OPS[i];
        CHECK_ERR_W(op->name, op->fn(e, op->req, strlen(op->req), NULL, &out, &len, &err), &err,
                    IK_ERR_CONNECTION, NULL);
        CHECK_UNTOUCHED(op->name, out, len);
    }
    CHECK_ERR(ik_management_client_readiness_events(m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":2}"),
                                             NULL, &s, &err),
              &err, IK_ERR_READINESS_TIMEOUT, NULL);
    CHECK_ERR(ik_endpoint_generate_text_stream(e, LIT("{\"prompt\":\"Hi\"}"), NULL, &s, &err), &err,
              IK_ERR_CONNECTION, NULL);
    CHECK(s == (ik_stream *)SENTINEL_STR);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

static void test_every_async_operation_completes_once_with_connection_refused(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    waiter *w[N_MGMT_OPS + N_EP_OPS];
    ik_error *err = NULL;
    size_t i;
    REQUIRE(m && d && e);
    /* All in flight at once; each with its own token, freed right away (the library keeps
     * its own reference). */
    for (i = 0; i < N_MGMT_OPS + N_EP_OPS; i++) {
        ik_cancel *c = ik_cancel_new();
        w[i] = waiter_new();
        if (i < N_MGMT_OPS) {
            const struct mgmt_op *op = &MGMT_OPS[i];
            CHECK_OK(op->afn(m, op->req, strlen(op->req), c, waiter_cb, w[i], &err), &err);
        } else {
            const struct ep_op *op = &EP_OPS[i - N_MGMT_OPS];
            CHECK_OK(op->afn(e, op->req, strlen(op->req), c, waiter_cb, w[i], &err), &err);
        }
        ik_cancel_free(c);
    }
    /* The handles may go while the calls run. */
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
    for (i = 0; i < N_MGMT_OPS + N_EP_OPS; i++) {
        const char *name = i < N_MGMT_OPS ? MGMT_OPS[i].name : EP_OPS[i - N_MGMT_OPS].name;
        ik_status expected = i < N_MGMT_OPS && MGMT_OPS[i].fn == wait_blocking
                                 ? IK_ERR_READINESS_TIMEOUT
                                 : IK_ERR_CONNECTION;
        if (!CHECK_ASYNC(w[i], 30, expected, NULL)) h_fail(__FILE__, __LINE__, "op %s", name);
        CHECKF(w[i]->err_http == 0, "%s: http status %d", name, w[i]->err_http);
    }
    sleep_ms(50);
    for (i = 0; i < N_MGMT_OPS + N_EP_OPS; i++) {
        CHECK_EQ_INT(waiter_calls(w[i]), 1);
        waiter_free(w[i]);
    }
}

static void test_async_stream_open_failure_then_stream_ends(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_stream *s[2] = {NULL, NULL};
    waiter *w[2];
    ik_error *err = NULL;
    int i;
    REQUIRE(m && d && e);
    w[0] = waiter_new();
    w[1] = waiter_new();
    CHECK_OK(ik_endpoint_generate_text_stream_async(e, LIT("{\"prompt\":\"Hi\"}"), NULL, &s[0],
                                                    waiter_cb, w[0], &err),
             &err);
    CHECK_OK(ik_management_client_readiness_events_async(m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":1}"),
                                                  NULL, &s[1], waiter_cb, w[1], &err),
             &err);
    CHECK(s[0] != NULL && s[1] != NULL);
    CHECK_ASYNC(w[0], 20, IK_ERR_CONNECTION, NULL);
    CHECK_ASYNC(w[1], 20, IK_ERR_READINESS_TIMEOUT, NULL);
    for (i = 0; i < 2; i++) {
        char *out = SENTINEL_STR, *meta = NULL;
        size_t len = SENTINEL_LEN;
        if (s[i] == NULL) continue;
        /* A failed open leaves an ended stream: next says "end", twice. */
        CHECK_OK(ik_stream_next(s[i], &out, &len, &err), &err);
        CHECK(out == NULL && len == 0);
        CHECK_OK(ik_stream_next(s[i], &out, NULL, &err), &err);
        CHECK(out == NULL);
        CHECK_ERR(ik_stream_next(s[i], NULL, &len, &err), &err, IK_ERR_NULL_ARG, "null_argument");
        CHECK_ERR(ik_stream_metadata(s[i], NULL, NULL, &err), &err, IK_ERR_NULL_ARG,
                  "null_argument");
        if (CHECK_OK(ik_stream_metadata(s[i], &meta, &len, &err), &err)) {
            CHECK(meta != NULL && meta[0] == '{');
            ik_buffer_free(meta);
        }
        waiter_reset(w[i]);
        CHECK_ERR(ik_stream_next_async(s[i], NULL, NULL, w[i], &err), &err, IK_ERR_NULL_ARG,
                  "null_argument");
        CHECK_OK(ik_stream_next_async(s[i], NULL, waiter_cb, w[i], &err), &err);
        if (CHECK_ASYNC(w[i], 10, IK_OK, NULL)) CHECK(w[i]->json == NULL);
        ik_stream_close(s[i]);
        ik_stream_close(s[i]); /* idempotent */
        CHECK_OK(ik_stream_next(s[i], &out, &len, &err), &err);
        CHECK(out == NULL);
        ik_stream_free(s[i]);
        CHECK_ERR(ik_stream_next(s[i], &out, &len, &err), &err, IK_ERR_INVALID_HANDLE,
                  "invalid_handle");
        ik_stream_free(s[i]); /* double free: ignored */
    }
    waiter_free(w[0]);
    waiter_free(w[1]);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

static void test_cancelled_before_the_call(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_cancel *c = ik_cancel_new();
    ik_stream *s = (ik_stream *)SENTINEL_STR;
    ik_error *err = NULL;
    size_t i;
    REQUIRE(m && d && e && c);
    ik_cancel_cancel(c);
    for (i = 0; i < N_MGMT_OPS; i++) {
        char *out = SENTINEL_STR;
        size_t len = SENTINEL_LEN;
        const struct mgmt_op *op = &MGMT_OPS[i];
        waiter *w = waiter_new();
        CHECK_ERR_W(op->name, op->fn(m, op->req, strlen(op->req), c, &out, &len, &err), &err,
                    IK_ERR_CANCELLED, "cancelled");
        CHECK_UNTOUCHED(op->name, out, len);
        CHECK_OK(op->afn(m, op->req, strlen(op->req), c, waiter_cb, w, &err), &err);
        CHECK_ASYNC(w, 10, IK_ERR_CANCELLED, "cancelled");
        waiter_free(w);
    }
    for (i = 0; i < N_EP_OPS; i++) {
        char *out = SENTINEL_STR;
        size_t len = SENTINEL_LEN;
        const struct ep_op *op = &EP_OPS[i];
        waiter *w = waiter_new();
        CHECK_ERR_W(op->name, op->fn(e, op->req, strlen(op->req), c, &out, &len, &err), &err,
                    IK_ERR_CANCELLED, "cancelled");
        CHECK_UNTOUCHED(op->name, out, len);
        CHECK_OK(op->afn(e, op->req, strlen(op->req), c, waiter_cb, w, &err), &err);
        CHECK_ASYNC(w, 10, IK_ERR_CANCELLED, "cancelled");
        waiter_free(w);
    }
    CHECK_ERR(ik_management_client_readiness_events(m, LIT("{\"workload_slug\":\"bot\"}"), c, &s, &err),
              &err, IK_ERR_CANCELLED, "cancelled");
    CHECK_ERR(ik_endpoint_generate_text_stream(e, LIT("{\"prompt\":\"Hi\"}"), c, &s, &err), &err,
              IK_ERR_CANCELLED, "cancelled");
    CHECK(s == (ik_stream *)SENTINEL_STR);
    {
        waiter *w = waiter_new();
        s = NULL;
        CHECK_OK(ik_endpoint_generate_text_stream_async(e, LIT("{\"prompt\":\"Hi\"}"), c, &s,
                                                        waiter_cb, w, &err),
                 &err);
        CHECK_ASYNC(w, 10, IK_ERR_CANCELLED, "cancelled");
        ik_stream_free(s);
        waiter_free(w);
    }
    ik_cancel_free(c);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

/* `*out` of the `_async` stream openers is "written at once": it must be written (and the
 * handle usable) before the callback can run, since the callback is where a binding starts
 * pulling. A pre-cancelled token makes the callback run immediately. */
struct open_race {
    ik_stream *volatile s;
    int unwritten;
    int unusable;
};

static void open_race_hook(waiter *w, ik_status st, const char *json, size_t len,
                           const ik_error *e) {
    struct open_race *x = w->ctx;
    ik_stream *s = x->s;
    (void)st, (void)json, (void)len, (void)e;
    if (s == NULL) {
        x->unwritten++;
    } else {
        char *meta = NULL;
        ik_error *err = NULL;
        if (ik_stream_metadata(s, &meta, NULL, &err) != IK_OK) x->unusable++;
        ik_buffer_free(meta);
        ik_error_free(err);
    }
}

static void test_async_stream_handle_is_written_before_the_callback(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_data_client *d = new_data(g_dcfg);
    ik_endpoint *e = d ? new_endpoint(d, "bot") : NULL;
    ik_cancel *c = ik_cancel_new();
    ik_error *err = NULL;
    int i, rounds = 100, unwritten = 0, unusable = 0;
    REQUIRE(m && e && c);
    ik_cancel_cancel(c);
    for (i = 0; i < 2 * rounds; i++) {
        struct open_race x;
        waiter *w = waiter_new();
        ik_status st;
        memset(&x, 0, sizeof x);
        w->hook = open_race_hook;
        w->ctx = &x;
        if (i % 2 == 0)
            st = ik_management_client_readiness_events_async(m, LIT("{\"workload_slug\":\"bot\"}"), c,
                                                      (ik_stream **)&x.s, waiter_cb, w, &err);
        else
            st = ik_endpoint_generate_text_stream_async(e, LIT("{\"prompt\":\"Hi\"}"), c,
                                                        (ik_stream **)&x.s, waiter_cb, w, &err);
        if (!CHECK_OK(st, &err)) {
            waiter_free(w);
            break;
        }
        CHECK_ASYNC(w, 10, IK_ERR_CANCELLED, "cancelled");
        unwritten += x.unwritten;
        unusable += x.unusable;
        ik_stream_free(x.s);
        waiter_free(w);
    }
    CHECKF(unwritten == 0,
           "the callback ran before *out was written in %d of %d async stream opens", unwritten,
           2 * rounds);
    CHECKF(unusable == 0, "the stream was not usable inside its open callback in %d of %d opens",
           unusable, 2 * rounds);
    ik_cancel_free(c);
    ik_endpoint_free(e);
    ik_data_client_free(d);
    ik_management_client_free(m);
}

/* The callback owns its error (rule 18a); a binding that frees it twice (here: the hook, then
 * waiter_cb) must not cause a double free (the registry ignores the second). */
static void free_error_early(waiter *w, ik_status st, const char *json, size_t len,
                             const ik_error *e) {
    (void)w, (void)st, (void)json, (void)len;
    ik_error_free((ik_error *)e);
}

static void test_a_callback_error_freed_twice_is_harmless(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    waiter *w = waiter_new();
    ik_error *err = NULL;
    REQUIRE(m);
    w->hook = free_error_early;
    CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, w, &err), &err);
    CHECK(waiter_wait(w, 20));
    CHECK_STATUS(w->status, IK_ERR_CONNECTION);
    waiter_free(w);
    ik_management_client_free(m);
}

/* ik_runtime_shutdown (the last test: irreversible for the process). What the library does,
 * from crates/inferencekey-ffi/src/ops.rs (`complete`) and deliver.rs: once shut down, every
 * outcome is dropped before it reaches the delivery queue, and a completion already queued is
 * dropped by the delivery thread; in both cases the library frees the result and the error
 * itself (ASan and valgrind check there is no leak). So an `_async` call started after
 * shutdown is accepted (IK_OK: its arguments are fine and it runs) but its callback never
 * runs; the same holds for a call in flight at shutdown. Shutdown returns only once a callback
 * already running has returned. The log callback is removed; blocking calls keep working. */
struct slow_cb {
    atomic_int entered, returned;
};

static void slow_hook(waiter *w, ik_status st, const char *json, size_t len, const ik_error *e) {
    struct slow_cb *x = w->ctx;
    (void)st, (void)json, (void)len, (void)e;
    atomic_store(&x->entered, 1);
    sleep_ms(300);
    atomic_store(&x->returned, 1);
}

static atomic_int g_records_after_shutdown;
static void counting_log_cb(void *ud, int32_t level, const char *json, size_t len) {
    (void)ud, (void)level, (void)json, (void)len;
    atomic_fetch_add(&g_records_after_shutdown, 1);
}

static void test_runtime_shutdown_stops_every_callback(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    waiter *running = waiter_new(), *in_flight = waiter_new(), *after = waiter_new();
    struct slow_cb x;
    ik_error *err = NULL;
    char *out = NULL;
    size_t len = 0;
    double t0;
    REQUIRE(m);
    memset(&x, 0, sizeof x);
    /* A callback that is running (for 300 ms) when shutdown is called. */
    running->hook = slow_hook;
    running->ctx = &x;
    CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, running, &err), &err);
    t0 = now_s();
    while (!atomic_load(&x.entered) && now_s() - t0 < h_scale(20)) sleep_ms(2);
    REQUIRE(atomic_load(&x.entered));
    /* A call in flight at shutdown: readiness keeps reconnecting until its 2 s deadline. */
    CHECK_OK(ik_management_client_wait_until_ready_async(
                 m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":2}"), NULL, NULL, NULL,
                 waiter_cb, in_flight, &err),
             &err);
    REQUIRE_OK(ik_log_set_callback(4, counting_log_cb, NULL, &err), &err);
    ik_runtime_shutdown();
    CHECKF(atomic_load(&x.returned), "ik_runtime_shutdown returned before the running callback");
    ik_runtime_shutdown(); /* idempotent */
    atomic_store(&g_records_after_shutdown, 0);
    /* Accepted, never called back. */
    CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, after, &err), &err);
    CHECK(!waiter_wait(after, 1.5));
    CHECK_EQ_INT(waiter_calls(after), 0);
    CHECK(!waiter_wait(in_flight, 3.0)); /* past its deadline: dropped */
    CHECK_EQ_INT(waiter_calls(in_flight), 0);
    CHECK_EQ_INT(waiter_calls(running), 1);
    /* Blocking calls still work; the log callback is gone. */
    CHECK_STATUS(ik_management_client_list(m, LIT("{}"), NULL, &out, &len, &err),
                 IK_ERR_CONNECTION);
    ik_error_free(err);
    CHECK_EQ_INT(atomic_load(&g_records_after_shutdown), 0);
    /* The dropped operations have finished; their waiters are no longer referenced. */
    waiter_free(running);
    waiter_free(in_flight);
    waiter_free(after);
    ik_management_client_free(m);
}

/* ABI 3 runs completion callbacks on the delivery thread. A blocking call made there would stall
 * every callback queued behind it (callbacks must not block), so it is refused with
 * `wrong_thread` (rule 17), as on a runtime thread; no stream handle is written. */
struct in_cb_ctx {
    ik_management_client *m;
    ik_endpoint *e;
    ik_status list_status, gen_status, open_status;
    char list_code[64], gen_code[64], open_code[64];
    int stream_written;
};

static void blocking_inside_callback(waiter *w, ik_status st, const char *json, size_t len,
                                     const ik_error *e) {
    struct in_cb_ctx *x = w->ctx;
    ik_error *err = NULL;
    char *out = NULL;
    ik_stream *s = NULL;
    (void)st, (void)json, (void)len, (void)e;
    x->list_status = ik_management_client_list(x->m, LIT("{}"), NULL, &out, NULL, &err);
    snprintf(x->list_code, sizeof x->list_code, "%s", err ? ik_error_code(err) : "");
    ik_error_free(err);
    err = NULL;
    ik_buffer_free(out);
    out = NULL;
    x->gen_status =
        ik_endpoint_generate_text(x->e, LIT("{\"prompt\":\"Hi\"}"), NULL, &out, NULL, &err);
    snprintf(x->gen_code, sizeof x->gen_code, "%s", err ? ik_error_code(err) : "");
    ik_error_free(err);
    err = NULL;
    ik_buffer_free(out);
    x->open_status = ik_management_client_readiness_events(
        x->m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":1}"), NULL, &s, &err);
    snprintf(x->open_code, sizeof x->open_code, "%s", err ? ik_error_code(err) : "");
    x->stream_written = s != NULL;
    ik_error_free(err);
    ik_stream_free(s);
}

static void test_a_blocking_call_from_a_completion_callback_is_refused(void) {
    struct in_cb_ctx x;
    ik_data_client *d = new_data(g_dcfg);
    ik_error *err = NULL;
    waiter *w = waiter_new();
    memset(&x, 0, sizeof x);
    x.m = new_mgmt(g_mcfg);
    x.e = d ? new_endpoint(d, "bot") : NULL;
    REQUIRE(x.m && x.e);
    w->hook = blocking_inside_callback;
    w->ctx = &x;
    CHECK_OK(ik_management_client_list_async(x.m, LIT("{}"), NULL, waiter_cb, w, &err), &err);
    if (CHECK_ASYNC(w, 30, IK_ERR_CONNECTION, NULL)) {
        CHECK_STATUS(x.list_status, IK_ERR_INVALID_STATE);
        CHECK_STREQ(x.list_code, "wrong_thread");
        CHECK_STATUS(x.gen_status, IK_ERR_INVALID_STATE);
        CHECK_STREQ(x.gen_code, "wrong_thread");
        CHECK_STATUS(x.open_status, IK_ERR_INVALID_STATE);
        CHECK_STREQ(x.open_code, "wrong_thread");
        CHECK(!x.stream_written);
    }
    waiter_free(w);
    ik_endpoint_free(x.e);
    ik_data_client_free(d);
    ik_management_client_free(x.m);
}

/* On a runtime thread (where the log callback of an `_async` call runs) every blocking call
 * is refused with `wrong_thread` instead of deadlocking the runtime (rule 17). */
struct rt_log {
    ik_management_client *m;
    atomic_int tried;
    ik_status status;
    char code[64], thread[32];
};
static struct rt_log g_rt_log;

static void blocking_in_runtime_log_cb(void *ud, int32_t level, const char *json, size_t len) {
    struct rt_log *x = ud;
    char name[32] = "";
    ik_error *err = NULL;
    char *out = NULL;
    (void)level, (void)json, (void)len;
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (strcmp(name, "inferencekey-rt") != 0 || atomic_exchange(&x->tried, 1)) return;
    x->status = ik_management_client_list(x->m, LIT("{}"), NULL, &out, NULL, &err);
    snprintf(x->code, sizeof x->code, "%s", err ? ik_error_code(err) : "");
    snprintf(x->thread, sizeof x->thread, "%s", name);
    ik_error_free(err);
    ik_buffer_free(out);
}

static void test_a_blocking_call_on_a_runtime_thread_is_refused(void) {
    waiter *w = waiter_new();
    ik_error *err = NULL;
    memset(&g_rt_log, 0, sizeof g_rt_log);
    g_rt_log.m = new_mgmt(g_mcfg);
    REQUIRE(g_rt_log.m);
    REQUIRE_OK(ik_log_set_callback(4, blocking_in_runtime_log_cb, &g_rt_log, &err), &err);
    CHECK_OK(ik_management_client_list_async(g_rt_log.m, LIT("{}"), NULL, waiter_cb, w, &err),
             &err);
    CHECK_ASYNC(w, 20, IK_ERR_CONNECTION, NULL);
    CHECK_OK(ik_log_set_callback(0, NULL, NULL, &err), &err);
    CHECKF(atomic_load(&g_rt_log.tried), "no log record came from a runtime thread");
    if (atomic_load(&g_rt_log.tried)) {
        CHECK_STATUS(g_rt_log.status, IK_ERR_INVALID_STATE);
        CHECK_STREQ(g_rt_log.code, "wrong_thread");
    }
    waiter_free(w);
    ik_management_client_free(g_rt_log.m);
}

/* ---------------------------------------------------------------------------------------- */
/* A readiness stream that ends early                                                       */

/* A one-answer-per-connection HTTP server: every request gets `answer`, then the connection
 * is closed. Serves `n` connections. */
struct canned_server {
    int fd, port, n, served;
    const char *answer;
    pthread_t thread;
};

static void *serve_canned(void *arg) {
    struct canned_server *c = arg;
    for (c->served = 0; c->served < c->n; c->served++) {
        char buf[4096];
        size_t got = 0;
        int conn = accept(c->fd, NULL, NULL);
        if (conn < 0) break;
        while (got < sizeof buf - 1) { /* the request head; no request here has a body */
            ssize_t r = recv(conn, buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL) break;
        }
        if (send(conn, c->answer, strlen(c->answer), MSG_NOSIGNAL) < 0) h_log("send failed");
        close(conn);
    }
    return NULL;
}

static int canned_server_start(struct canned_server *c, const char *answer, int n) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(c, 0, sizeof *c);
    c->answer = answer;
    c->n = n;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(c->fd, 8) != 0 ||
        getsockname(c->fd, (struct sockaddr *)&a, &len) != 0)
        return 0;
    c->port = ntohs(a.sin_port);
    return pthread_create(&c->thread, NULL, serve_canned, c) == 0;
}

struct seen_events {
    atomic_int n;
    char first[512];
};

static void count_event_cb(void *ud, ik_status st, char *json, size_t len, ik_error *err) {
    struct seen_events *x = ud;
    (void)len;
    if (st == IK_OK && json != NULL && atomic_fetch_add(&x->n, 1) == 0)
        snprintf(x->first, sizeof x->first, "%s", json);
    ik_buffer_free(json);
    ik_error_free(err);
}

/* `[DONE]` before a terminal phase: IK_ERR_API, code `stream_ended` (ABI 3), after the events
 * that came first went to `on_event`; blocking and `_async`. */
static void test_a_readiness_stream_ending_before_a_terminal_phase(void) {
    static const char answer[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Request-Id: req_canned\r\n"
        "Connection: close\r\n\r\n"
        "data: {\"phase\":\"bootstrapping\",\"message\":\"starting\",\"elapsed_ms\":5}\n\n"
        "data: [DONE]\n\n";
    struct canned_server srv;
    struct seen_events ev;
    ik_management_client *m;
    char cfg[512], *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    waiter *w = waiter_new();
    REQUIRE(canned_server_start(&srv, answer, 2));
    snprintf(cfg, sizeof cfg,
             "{\"base_url\":\"http://127.0.0.1:%d\",\"sdk_token\":\"%s\",\"project\":\"acme\","
             "\"max_retries\":0}",
             srv.port, SDK_TOKEN);
    m = new_mgmt(cfg);
    memset(&ev, 0, sizeof ev);
    if (m != NULL) {
        CHECK_ERR(ik_management_client_wait_until_ready(
                      m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":20}"), NULL, count_event_cb,
                      &ev, &out, &len, &err),
                  &err, IK_ERR_API, "stream_ended");
        CHECK_UNTOUCHED("wait_until_ready", out, len);
        CHECK_EQ_INT(atomic_load(&ev.n), 1);
        CHECK_CONTAINS(ev.first, "\"phase\":\"bootstrapping\"");
        memset(&ev, 0, sizeof ev);
        CHECK_OK(ik_management_client_wait_until_ready_async(
                     m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":20}"), NULL, count_event_cb,
                     &ev, waiter_cb, w, &err),
                 &err);
        CHECK_ASYNC(w, 30, IK_ERR_API, "stream_ended");
        CHECK_EQ_INT(atomic_load(&ev.n), 1);
    }
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    waiter_free(w);
    ik_management_client_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* Threads and fork                                                                         */

struct shared {
    ik_management_client *m;
    ik_endpoint *e;
    int errors;
    pthread_mutex_t mu;
};

static void *use_shared(void *arg) {
    struct shared *sh = arg;
    int i, bad = 0;
    for (i = 0; i < 8; i++) {
        ik_error *err = NULL;
        char *out = NULL;
        ik_management_client *copy = NULL;
        waiter *w = waiter_new();
        ik_cancel *c = ik_cancel_new();
        if (ik_management_client_list(sh->m, LIT("{}"), c, &out, NULL, &err) != IK_ERR_CONNECTION) bad++;
        ik_error_free(err);
        err = NULL;
        if (ik_management_client_describe(sh->m, &out, NULL, &err) != IK_OK) bad++;
        ik_buffer_free(out);
        out = NULL;
        if (ik_management_client_with_options(sh->m, LIT("{\"max_retries\":0}"), &copy, &err) !=
            IK_OK)
            bad++;
        ik_management_client_free(copy);
        if (ik_endpoint_embed_async(sh->e, LIT("{\"input\":\"x\"}"), c, waiter_cb, w, &err) !=
            IK_OK)
            bad++;
        if (!waiter_wait(w, 20) || w->status != IK_ERR_CONNECTION) bad++;
        if (ik_endpoint_describe(sh->e, &out, NULL, &err) != IK_OK) bad++;
        ik_buffer_free(out);
        ik_error_free(err);
        ik_cancel_free(c);
        waiter_free(w);
    }
    pthread_mutex_lock(&sh->mu);
    sh->errors += bad;
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

static void test_one_client_shared_by_threads(void) {
    struct shared sh;
    ik_data_client *d = new_data(g_dcfg);
    pthread_t t[6];
    int i;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.mu, NULL);
    sh.m = new_mgmt(g_mcfg);
    sh.e = d ? new_endpoint(d, "bot") : NULL;
    REQUIRE(sh.m && sh.e);
    for (i = 0; i < 6; i++) pthread_create(&t[i], NULL, use_shared, &sh);
    for (i = 0; i < 6; i++) pthread_join(t[i], NULL);
    CHECK_EQ_INT(sh.errors, 0);
    ik_endpoint_free(sh.e);
    ik_data_client_free(d);
    ik_management_client_free(sh.m);
    pthread_mutex_destroy(&sh.mu);
}

/* In a forked child: the client made before fork works, blocking and async. */
/* ---------------------------------------------------------------------------------------- */
/* Completion queues (rule 18b)                                                             */

static atomic_int g_queued_cb_calls;

/* Bound to the queue under test: while the queue lives it must never run. */
static void queued_cb(void *user_data, ik_status st, char *json, size_t len, ik_error *err) {
    (void)user_data, (void)st, (void)len;
    atomic_fetch_add(&g_queued_cb_calls, 1);
    ik_buffer_free(json);
    ik_error_free(err);
}

/* The waiter's callback under another address, for a queue that is freed with completions. */
static void queued_waiter_cb(void *user_data, ik_status st, char *json, size_t len,
                             ik_error *err) {
    waiter_cb(user_data, st, json, len, err);
}

/* 1 when `fd` becomes readable within `timeout_ms`. */
static int readable_within(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

static void test_a_completion_queue_holds_its_callbacks_completions(void) {
    enum { CALLS = 5 };
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_completion_queue *q = NULL, *q2 = (ik_completion_queue *)SENTINEL_STR;
    ik_completion items[2];
    ik_error *err = NULL;
    int fd = -1, seen[CALLS + 1] = {0}, taken = 0, i;
    size_t count = 99;
    double deadline;
    REQUIRE(m);
    atomic_store(&g_queued_cb_calls, 0);
    CHECK_ERR(ik_completion_queue_new(NULL, &q, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_completion_queue_new(queued_cb, NULL, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    REQUIRE_OK(ik_completion_queue_new(queued_cb, &q, &err), &err);
    /* One queue per callback. */
    CHECK_ERR(ik_completion_queue_new(queued_cb, &q2, &err), &err, IK_ERR_INVALID_STATE,
              "callback_queued");
    CHECK(q2 == (ik_completion_queue *)SENTINEL_STR);
    CHECK_ERR(ik_completion_queue_fd(q, NULL, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    REQUIRE_OK(ik_completion_queue_fd(q, &fd, &err), &err);
    CHECK(fd >= 0);
    CHECK(!readable_within(fd, 0));
    CHECK_ERR(ik_completion_queue_drain(q, items, 2, NULL, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_completion_queue_drain(q, NULL, 2, &count, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_OK(ik_completion_queue_drain(q, NULL, 0, &count, &err), &err);
    CHECK_EQ_INT((int)count, 0);

    for (i = 1; i <= CALLS; i++)
        CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, queued_cb, (void *)(intptr_t)i,
                                                 &err),
                 &err);
    /* Taken two at a time as they arrive: each exactly once, none called back. */
    deadline = now_s() + h_scale(20);
    while (taken < CALLS && now_s() < deadline) {
        size_t k;
        if (!readable_within(fd, 100)) continue;
        REQUIRE_OK(ik_completion_queue_drain(q, items, 2, &count, &err), &err);
        CHECKF(count > 0, "a readable descriptor but nothing to drain");
        for (k = 0; k < count; k++) {
            intptr_t id = (intptr_t)items[k].user_data;
            CHECKF(id >= 1 && id <= CALLS, "unknown user_data %ld", (long)id);
            if (id >= 1 && id <= CALLS) seen[id]++;
            CHECK_EQ_INT(items[k].status, IK_ERR_CONNECTION);
            CHECK(items[k].json == NULL && items[k].err != NULL);
            CHECK_EQ_INT(ik_error_status(items[k].err), IK_ERR_CONNECTION);
            ik_error_free(items[k].err);
        }
        taken += (int)count;
    }
    CHECK_EQ_INT(taken, CALLS);
    for (i = 1; i <= CALLS; i++) CHECKF(seen[i] == 1, "completion %d taken %d times", i, seen[i]);
    /* Empty again: not readable, nothing to take. */
    CHECK(!readable_within(fd, 0));
    CHECK_OK(ik_completion_queue_drain(q, items, 2, &count, &err), &err);
    CHECK_EQ_INT((int)count, 0);
    CHECK_EQ_INT(atomic_load(&g_queued_cb_calls), 0);

    /* Another callback's completion still goes to the delivery thread. */
    {
        waiter *w = waiter_new();
        CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, w, &err), &err);
        CHECK_ASYNC(w, 20, IK_ERR_CONNECTION, NULL);
        waiter_free(w);
        CHECK(!readable_within(fd, 0));
    }

    ik_completion_queue_free(q);
    ik_completion_queue_free(q); /* a double free is ignored */
    CHECK_INVALID_HANDLE(ik_completion_queue_fd(q, &fd, &err), &err, "ik_completion_queue",
                         "freed");
    CHECK_INVALID_HANDLE(ik_completion_queue_drain(q, items, 2, &count, &err), &err,
                         "ik_completion_queue", "freed");
    CHECK_INVALID_HANDLE(ik_completion_queue_drain((ik_completion_queue *)m, items, 2, &count, &err),
                         &err, "ik_completion_queue", "another kind");
    /* The callback is free for a new queue, and after it the delivery thread serves it. */
    REQUIRE_OK(ik_completion_queue_new(queued_cb, &q, &err), &err);
    ik_completion_queue_free(q);
    CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, queued_cb, NULL, &err), &err);
    deadline = now_s() + h_scale(20);
    while (atomic_load(&g_queued_cb_calls) == 0 && now_s() < deadline) sleep_ms(5);
    CHECK_EQ_INT(atomic_load(&g_queued_cb_calls), 1);
    ik_management_client_free(m);
}

static void test_freeing_a_completion_queue_calls_back_what_it_held(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_completion_queue *q = NULL;
    ik_error *err = NULL;
    waiter *w = waiter_new();
    int fd = -1;
    REQUIRE(m);
    REQUIRE_OK(ik_completion_queue_new(queued_waiter_cb, &q, &err), &err);
    REQUIRE_OK(ik_completion_queue_fd(q, &fd, &err), &err);
    CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, queued_waiter_cb, w, &err), &err);
    /* Completed into the queue and never taken: freeing the queue loses nothing. */
    CHECK(readable_within(fd, (int)(h_scale(20) * 1000)));
    CHECK_EQ_INT(waiter_calls(w), 0);
    ik_completion_queue_free(q);
    CHECK_ASYNC(w, 20, IK_ERR_CONNECTION, NULL);
    CHECK_EQ_INT(waiter_calls(w), 1);
    waiter_free(w);
    ik_management_client_free(m);
}

static int fork_child_queues(void *ctx) {
    ik_completion_queue *parents = ctx, *own = NULL;
    ik_completion items[1];
    ik_error *e = NULL;
    size_t count = 0;
    int code = 0;
    if (ik_completion_queue_drain(parents, items, 1, &count, &e) != IK_ERR_INVALID_STATE ||
        strcmp(ik_error_code(e), "forked") != 0)
        code = 20;
    ik_error_free(e);
    e = NULL;
    /* The child binds the same callback to a queue of its own. */
    if (ik_completion_queue_new(queued_cb, &own, &e) != IK_OK) code = 21;
    ik_error_free(e);
    ik_completion_queue_free(own);
    return code;
}

static void test_a_forked_child_makes_its_own_completion_queue(void) {
    ik_completion_queue *q = NULL;
    ik_error *err = NULL;
    int code;
    REQUIRE_OK(ik_completion_queue_new(queued_cb, &q, &err), &err);
    code = h_fork_run(fork_child_queues, q, 60);
    CHECKF(code == 0, "child failed with %d", code);
    ik_completion_queue_free(q);
}

static int fork_child_calls(void *ctx) {
    ik_management_client *m = ctx;
    ik_error *e = NULL;
    char *o = NULL;
    waiter *w = waiter_new();
    int code = 0;
    if (ik_management_client_list(m, LIT("{}"), NULL, &o, NULL, &e) != IK_ERR_CONNECTION) code = 10;
    ik_error_free(e);
    e = NULL;
    if (ik_management_client_get_async(m, LIT("{\"workload_slug\":\"bot\"}"), NULL, waiter_cb, w, &e) !=
        IK_OK)
        code = 11;
    else if (!waiter_wait(w, 20) || w->status != IK_ERR_CONNECTION)
        code = 12;
    ik_error_free(e);
    waiter_free(w);
    return code;
}

static void test_fork_child_gets_a_fresh_runtime(void) {
    ik_management_client *m = new_mgmt(g_mcfg);
    ik_error *err = NULL;
    char *out = NULL;
    int round;
    REQUIRE(m);
    /* The parent's runtime and delivery thread are running. */
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err,
              IK_ERR_CONNECTION, NULL);
    for (round = 0; round < 2; round++) {
        waiter *w = waiter_new();
        int code;
        CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, waiter_cb, w, &err), &err);
        CHECK_ASYNC(w, 20, IK_ERR_CONNECTION, NULL);
        waiter_free(w);
        code = h_fork_run(fork_child_calls, m, 60);
        CHECKF(code == 0, "child (round %d) failed with %d", round, code);
    }
    /* The parent is unaffected. */
    CHECK_ERR(ik_management_client_list(m, LIT("{}"), NULL, &out, NULL, &err), &err,
              IK_ERR_CONNECTION, NULL);
    ik_management_client_free(m);
}

/* ik_webhook_verify: argument errors, then each refusal code. No signature is computed here
   (that needs an HMAC library); the bindings' tests verify real signatures. */
static void test_webhook_verify_arguments_and_refusals(void) {
    static const char body[] = "{\"event\":\"ping\",\"ts\":1}";
    static const char req[] =
        "{\"headers\":[[\"X-InferenceKey-Signature\",\"t=1,v1=00\"]],\"secret\":\"whsec_x\"}";
    static const char obj[] =
        "{\"headers\":{\"x-inferencekey-signature\":\"t=1,v1=00\"},\"secret\":\"whsec_x\"}";
    static const char unsigned_req[] = "{\"headers\":[],\"secret\":\"whsec_x\"}";
    static const char no_secret[] = "{\"headers\":[],\"secret\":\"\"}";
    static const char bad_tol[] = "{\"headers\":[],\"secret\":\"s\",\"tolerance_s\":-1}";
    static const char extra[] = "{\"headers\":[],\"secret\":\"s\",\"tolerance\":1}";
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    const uint8_t *p = (const uint8_t *)body;
    CHECK_ERR(ik_webhook_verify(NULL, 3, req, strlen(req), &out, &len, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), NULL, 0, &out, &len, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), req, strlen(req), NULL, &len, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), extra, strlen(extra), &out, &len, &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), no_secret, strlen(no_secret), &out, &len, &err),
              &err, IK_ERR_VALIDATION, "invalid_argument");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), bad_tol, strlen(bad_tol), &out, &len, &err),
              &err, IK_ERR_VALIDATION, "invalid_argument");
    /* An empty payload may be NULL. */
    CHECK_ERR(ik_webhook_verify(NULL, 0, unsigned_req, strlen(unsigned_req), &out, &len, &err),
              &err, IK_ERR_WEBHOOK_SIGNATURE, "webhook_header_malformed");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), req, strlen(req), &out, &len, &err), &err,
              IK_ERR_WEBHOOK_SIGNATURE, "webhook_signature_mismatch");
    CHECK_ERR(ik_webhook_verify(p, strlen(body), obj, strlen(obj), &out, &len, &err), &err,
              IK_ERR_WEBHOOK_SIGNATURE, "webhook_signature_mismatch");
    CHECK_UNTOUCHED("ik_webhook_verify", out, len);
}

static void test_dev_server_argument_errors(void) {
    ik_dev_server *s = (ik_dev_server *)SENTINEL_STR;
    char *info = SENTINEL_STR, *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    int local = 0;
    static const char cfg[] = "{\"port\":0}";
    CHECK_ERR(ik_dev_server_start(NULL, 3, &s, &info, &len, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_dev_server_start(cfg, strlen(cfg), NULL, &info, &len, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_dev_server_start(cfg, strlen(cfg), &s, NULL, &len, &err), &err, IK_ERR_NULL_ARG,
              "null_argument");
    CHECK_ERR(ik_dev_server_start(LIT("{\"prot\":1}"), &s, &info, &len, &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_dev_server_start(LIT("{\"port\":\"x\xff\"}"), &s, &info, &len, &err), &err,
              IK_ERR_INVALID_UTF8, "invalid_utf8");
    CHECK_ERR(ik_dev_server_start(LIT("{\"port\":0,\"admin_secret\":\"short\"}"), &s, &info, &len,
                                  &err),
              &err, IK_ERR_CONFIG, "invalid_config");
    CHECK_ERR(ik_dev_server_start(LIT("{\"port\":0,\"upstream_timeout_s\":-1}"), &s, &info, &len,
                                  &err),
              &err, IK_ERR_CONFIG, "invalid_config");
    CHECK(s == (ik_dev_server *)SENTINEL_STR);
    CHECK_UNTOUCHED("ik_dev_server_start", info, len);
    CHECK_ERR(ik_dev_server_create_project(NULL, LIT("{\"slug\":\"acme\"}"), &out, &len, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_dev_server_create_project((ik_dev_server *)&local, LIT("{\"slug\":\"acme\"}"),
                                           &out, &len, &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_ERR(ik_dev_server_mint_token(NULL, LIT("{\"project\":\"acme\",\"kind\":\"live\"}"), &out,
                                       &len, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_dev_server_mint_token((ik_dev_server *)&local,
                                       LIT("{\"project\":\"acme\",\"kind\":\"live\"}"), &out, &len,
                                       &err),
              &err, IK_ERR_INVALID_HANDLE, "invalid_handle");
    CHECK_UNTOUCHED("ik_dev_server_*", out, len);
    ik_dev_server_stop((ik_dev_server *)&local);
    ik_dev_server_free((ik_dev_server *)&local);
}

int main(void) {
    int port = closed_port();
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", port);
    /* No retries and short timeouts: connection errors come back at once. */
    snprintf(g_mcfg, sizeof g_mcfg,
             "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"project\":\"acme\",\"max_retries\":0,"
             "\"connect_timeout_s\":2,\"timeout_s\":5,\"binding\":\"c-tests\","
             "\"binding_version\":\"0\"}",
             g_base, SDK_TOKEN);
    snprintf(g_dcfg, sizeof g_dcfg,
             "{\"base_url\":\"%s\",\"api_key\":\"%s\",\"project\":\"acme\",\"max_retries\":0,"
             "\"connect_timeout_s\":2,\"timeout_s\":5}",
             g_base, LIVE_KEY);
    printf("test_abi: library %s (ABI %u), closed port %d\n", ik_version(), ik_abi_version(), port);

    RUN(test_version_matches_header, 10);
    RUN(test_free_null_is_noop, 10);
    RUN(test_err_is_untouched_on_success, 30);
    RUN(test_double_free_and_foreign_pointers_are_ignored, 20);
    RUN(test_a_freed_handle_is_an_invalid_handle, 30);
    RUN(test_a_freed_handle_stays_refused_when_new_handles_are_made, 120);
    RUN(test_another_kind_or_a_foreign_pointer_is_an_invalid_handle, 20);
    RUN(test_a_double_free_is_harmless, 20);
    RUN(test_error_accessors_reject_invalid_pointers, 10);
    RUN(test_error_accessors_on_a_boundary_error, 10);
    RUN(test_error_details_json_of_a_validation_error, 20);
    RUN(test_panic_is_caught_at_the_boundary, 10);
    RUN(test_cancel_token_lifecycle_and_threads, 20);
    RUN(test_log_set_callback_argument_errors, 10);
    RUN(test_log_callback_receives_redacted_json_and_can_be_removed, 30);
    RUN(test_log_callback_may_reenter_the_library, 30);
    RUN(test_management_client_new_errors, 20);
    RUN(test_data_client_new_errors, 20);
    RUN(test_invalid_utf8_variants, 10);
    RUN(test_inputs_need_no_terminator, 20);
    RUN(test_management_client_describe_and_with_options, 20);
    RUN(test_data_client_describe_and_with_options, 20);
    RUN(test_endpoint_new_and_describe, 20);
    RUN(test_workload_spec_validate, 10);
    RUN(test_text_and_token_redact, 10);
    RUN(test_webhook_verify_arguments_and_refusals, 10);
    RUN(test_live_objects_counts_handles_and_buffers, 10);
    RUN(test_management_operations_reject_bad_arguments, 30);
    RUN(test_endpoint_operations_reject_bad_arguments, 30);
    RUN(test_stream_open_operations_reject_bad_arguments, 30);
    RUN(test_stream_functions_reject_invalid_streams, 20);
    RUN(test_every_operation_reports_connection_refused, 60);
    RUN(test_every_async_operation_completes_once_with_connection_refused, 60);
    RUN(test_async_stream_open_failure_then_stream_ends, 60);
    RUN(test_cancelled_before_the_call, 30);
    RUN(test_async_stream_handle_is_written_before_the_callback, 60);
    RUN(test_a_callback_error_freed_twice_is_harmless, 30);
    RUN(test_a_blocking_call_from_a_completion_callback_is_refused, 30);
    RUN(test_a_blocking_call_on_a_runtime_thread_is_refused, 30);
    RUN(test_a_readiness_stream_ending_before_a_terminal_phase, 60);
    RUN(test_one_client_shared_by_threads, 90);
    RUN(test_fork_child_gets_a_fresh_runtime, 90);
    RUN(test_a_completion_queue_holds_its_callbacks_completions, 60);
    RUN(test_freeing_a_completion_queue_calls_back_what_it_held, 30);
    RUN(test_a_forked_child_makes_its_own_completion_queue, 90);
    RUN(test_dev_server_argument_errors, 20);
    /* Last: it is irreversible for the process. */
    RUN(test_runtime_shutdown_stops_every_callback, 30);
    return h_summary();
}
