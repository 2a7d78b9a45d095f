/*
 * C ABI tests of the runtime's configuration (c-abi rules 3a and 18a): ik_runtime_configure
 * must come before the shared runtime starts, which is once per process, so these tests need
 * a process of their own (a fork() child of another test binary would inherit the parent's
 * "started" state). No platform: the calls go to a closed loopback port.
 *
 * Run: ./test_runtime  (IK_TEST_VERBOSE=1 prints every error seen)
 */
#define _GNU_SOURCE
#include <dirent.h>

#include "harness.h"

#define SDK_TOKEN "ik_sdk_pub12345_S3cr3tS3cr3tS3cr3t"
#define WORKERS 5 /* not the default (2), so that the count shows the setting took effect */

static char g_mcfg[512];

/* Threads of this process named `name` (/proc/self/task/<tid>/comm). */
static int threads_named(const char *name) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (d == NULL) return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300], comm[64] = "";
        FILE *f;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r")) == NULL) continue;
        if (fgets(comm, sizeof comm, f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            n += strcmp(comm, name) == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Before the runtime starts: every malformed configuration is refused and changes nothing. */
static void test_configure_rejects_bad_configurations(void) {
    ik_error *err = NULL;
    CHECK_ERR(ik_runtime_configure(NULL, 5, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_runtime_configure(NULL, 0, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":\"\xff\"}"), &err), &err,
              IK_ERR_INVALID_UTF8, "invalid_utf8");
    CHECK_ERR(ik_runtime_configure(LIT("{}\0{}"), &err), &err, IK_ERR_INVALID_ARG,
              "interior_nul");
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":"), &err), &err, IK_ERR_INVALID_JSON,
              "invalid_json");
    CHECK_ERR(ik_runtime_configure(LIT("[2]"), &err), &err, IK_ERR_INVALID_JSON, "invalid_json");
    /* An unknown key is named. */
    CHECK_STATUS(ik_runtime_configure(LIT("{\"workers\":2}"), &err), IK_ERR_INVALID_JSON);
    if (err) CHECK_CONTAINS(ik_error_message(err), "workers");
    CHECK_ERR(IK_ERR_INVALID_JSON, &err, IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":\"2\"}"), &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":-1}"), &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
    /* Out of 1..64. */
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":0}"), &err), &err, IK_ERR_INVALID_ARG,
              "invalid_runtime_option");
    CHECK_STATUS(ik_runtime_configure(LIT("{\"worker_threads\":65}"), &err), IK_ERR_INVALID_ARG);
    if (err) CHECK_CONTAINS(ik_error_message(err), "65");
    CHECK_ERR(IK_ERR_INVALID_ARG, &err, IK_ERR_INVALID_ARG, "invalid_runtime_option");
    CHECK_STATUS(ik_runtime_configure(LIT("{\"worker_threads\":1000}"), NULL), IK_ERR_INVALID_ARG);
    CHECK_ERR(ik_runtime_configure(LIT("{\"callbacks\":\"anywhere\"}"), &err), &err,
              IK_ERR_INVALID_JSON, "invalid_json");
}

/* A completion callback that records the name of the thread it runs on. */
static char g_cb_thread[32];
static volatile int g_cb_status = -1;
static void name_cb(void *ud, ik_status st, char *json, size_t len, ik_error *e) {
    (void)ud;
    (void)len;
    pthread_getname_np(pthread_self(), g_cb_thread, sizeof g_cb_thread);
    ik_buffer_free(json);
    ik_error_free(e);
    __atomic_store_n(&g_cb_status, (int)st, __ATOMIC_SEQ_CST);
}

/* Before the runtime starts: valid configurations are taken (the last one wins), and the
 * runtime starts with that many workers. */
static void test_configure_before_the_runtime_starts(void) {
    ik_error *const sentinel = (ik_error *)SENTINEL_STR;
    ik_error *err = sentinel;
    ik_management_client *m = NULL;
    int n;
    CHECK_EQ_INT(threads_named("inferencekey-rt"), 0); /* not started yet */
    CHECK_STATUS(ik_runtime_configure(LIT("{}"), &err), IK_OK);
    CHECK_STATUS(ik_runtime_configure(LIT("{\"worker_threads\":64}"), &err), IK_OK);
    CHECK_STATUS(ik_runtime_configure(LIT("{\"worker_threads\":1}"), &err), IK_OK);
    CHECK_STATUS(ik_runtime_configure(LIT("{\"worker_threads\":5}"), &err), IK_OK);
    CHECK_STATUS(ik_runtime_configure(LIT("{\"callbacks\":\"delivery_thread\"}"), &err), IK_OK);
    CHECK_STATUS(ik_runtime_configure(LIT("{\"callbacks\":\"worker\"}"), &err), IK_OK);
    CHECK(err == sentinel); /* untouched on success */
    err = NULL;
    /* A client alone does not start the runtime: configuring is still possible. */
    REQUIRE_OK(ik_management_client_new(g_mcfg, strlen(g_mcfg), &m, &err), &err);
    CHECK_OK(ik_runtime_configure(LIT("{\"worker_threads\":5}"), &err), &err);
    /* The first `_async` call starts it; with "callbacks": "worker", its callback runs on the
       worker that finished the call (the harness's waiter expects the delivery thread). */
    CHECK_OK(ik_management_client_list_async(m, LIT("{}"), NULL, name_cb, NULL, &err), &err);
    {
        double t0 = now_s();
        while (__atomic_load_n(&g_cb_status, __ATOMIC_SEQ_CST) < 0 && now_s() - t0 < h_scale(20))
            sleep_ms(5);
    }
    CHECK_EQ_INT(g_cb_status, IK_ERR_CONNECTION);
    CHECK_STREQ(g_cb_thread, "inferencekey-rt");
    /* A worker names itself once it first runs, which under load can come a little later. */
    {
        double t0 = now_s();
        while ((n = threads_named("inferencekey-rt")) < WORKERS && now_s() - t0 < h_scale(10))
            sleep_ms(10);
    }
    h_log("%d runtime threads", n);
    CHECKF(n >= WORKERS, "%d threads named inferencekey-rt, expected %d workers", n, WORKERS);
    ik_management_client_free(m);
}

/* Once the runtime has started: refused, whatever the configuration. */
static void test_configure_after_the_runtime_started(void) {
    ik_error *err = NULL;
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":2}"), &err), &err,
              IK_ERR_INVALID_STATE, "runtime_started");
    CHECK_ERR(ik_runtime_configure(LIT("{}"), &err), &err, IK_ERR_INVALID_STATE,
              "runtime_started");
    CHECK_ERR(ik_runtime_configure(LIT("{\"worker_threads\":65}"), &err), &err,
              IK_ERR_INVALID_STATE, "runtime_started");
    CHECK_STATUS(ik_runtime_configure(LIT("{\"worker_threads\":3}"), NULL), IK_ERR_INVALID_STATE);
    /* Argument checks still come first. */
    CHECK_ERR(ik_runtime_configure(NULL, 2, &err), &err, IK_ERR_NULL_ARG, "null_argument");
    CHECK_ERR(ik_runtime_configure(LIT("{\"workers\":2}"), &err), &err, IK_ERR_INVALID_JSON,
              "invalid_json");
}

int main(void) {
    snprintf(g_mcfg, sizeof g_mcfg,
             "{\"base_url\":\"http://127.0.0.1:%d\",\"sdk_token\":\"%s\",\"project\":\"acme\","
             "\"max_retries\":0,\"connect_timeout_s\":2,\"timeout_s\":5}",
             closed_port(), SDK_TOKEN);
    printf("test_runtime: library %s (ABI %u)\n", ik_version(), ik_abi_version());
    /* In this order: the runtime starts in the second test. */
    h_always = 1;
    RUN(test_configure_rejects_bad_configurations, 10);
    RUN(test_configure_before_the_runtime_starts, 30);
    RUN(test_configure_after_the_runtime_started, 10);
    return h_summary();
}
