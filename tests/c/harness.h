/*
 * A tiny test harness for the C ABI tests: checks, a runner with a per-test watchdog, a
 * waiter for `_async` callbacks (pthread mutex + condvar), and small JSON/socket helpers.
 *
 * Every test binary is one translation unit that includes this header once. A binary prints
 * one line per test and ends with exactly `N passed, M failed`; it exits non-zero when a
 * test failed. Checks may run on any thread (callbacks run on the library's delivery thread).
 */
#ifndef IK_HARNESS_H
#define IK_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ik_test.h"

#define H_UNUSED __attribute__((unused))

/* ---------------------------------------------------------------------------------------- */
/* Results                                                                                  */

static atomic_int h_current_failed;
static int h_passed, h_failed;
static const char *h_current = "(none)";
static pthread_mutex_t h_print_mu = PTHREAD_MUTEX_INITIALIZER;
static int h_verbose = -1;
static int h_always; /* when set, RUN ignores IK_TEST_ONLY (for set-up tests) */

H_UNUSED static int h_is_verbose(void) {
    if (h_verbose < 0) {
        const char *v = getenv("IK_TEST_VERBOSE");
        h_verbose = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
    }
    return h_verbose;
}

__attribute__((format(printf, 3, 4))) H_UNUSED static void h_fail(const char *file, int line,
                                                                   const char *fmt, ...) {
    va_list ap;
    atomic_fetch_add(&h_current_failed, 1);
    pthread_mutex_lock(&h_print_mu);
    fprintf(stderr, "    FAIL %s:%d [%s]: ", file, line, h_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&h_print_mu);
}

__attribute__((format(printf, 1, 2))) H_UNUSED static void h_log(const char *fmt, ...) {
    va_list ap;
    if (!h_is_verbose()) return;
    pthread_mutex_lock(&h_print_mu);
    fputs("      . ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&h_print_mu);
}

H_UNUSED static const char *status_name(ik_status s) {
    switch (s) {
    case IK_OK: return "IK_OK";
    case IK_ERR_INVALID_ARG: return "IK_ERR_INVALID_ARG";
    case IK_ERR_NULL_ARG: return "IK_ERR_NULL_ARG";
    case IK_ERR_INVALID_UTF8: return "IK_ERR_INVALID_UTF8";
    case IK_ERR_INVALID_JSON: return "IK_ERR_INVALID_JSON";
    case IK_ERR_INVALID_STATE: return "IK_ERR_INVALID_STATE";
    case IK_ERR_INVALID_HANDLE: return "IK_ERR_INVALID_HANDLE";
    case IK_ERR_CONFIG: return "IK_ERR_CONFIG";
    case IK_ERR_AUTH: return "IK_ERR_AUTH";
    case IK_ERR_PERMISSION: return "IK_ERR_PERMISSION";
    case IK_ERR_VALIDATION: return "IK_ERR_VALIDATION";
    case IK_ERR_DRIFT: return "IK_ERR_DRIFT";
    case IK_ERR_NOT_FOUND: return "IK_ERR_NOT_FOUND";
    case IK_ERR_CONFLICT: return "IK_ERR_CONFLICT";
    case IK_ERR_RATE_LIMITED: return "IK_ERR_RATE_LIMITED";
    case IK_ERR_API: return "IK_ERR_API";
    case IK_ERR_SERVER: return "IK_ERR_SERVER";
    case IK_ERR_WORKLOAD_FAILED: return "IK_ERR_WORKLOAD_FAILED";
    case IK_ERR_CONNECTION: return "IK_ERR_CONNECTION";
    case IK_ERR_TIMEOUT: return "IK_ERR_TIMEOUT";
    case IK_ERR_READINESS_TIMEOUT: return "IK_ERR_READINESS_TIMEOUT";
    case IK_ERR_CANCELLED: return "IK_ERR_CANCELLED";
    case IK_ERR_PANIC: return "IK_ERR_PANIC";
    case IK_ERR_UNKNOWN: return "IK_ERR_UNKNOWN";
    default: return "?";
    }
}

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) h_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                          \
    } while (0)

#define CHECKF(cond, ...)                                                                      \
    do {                                                                                       \
        if (!(cond)) h_fail(__FILE__, __LINE__, __VA_ARGS__);                                 \
    } while (0)

/* Fatal for the current test: returns from the test function. */
#define REQUIRE(cond)                                                                          \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            h_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                                 \
            return;                                                                            \
        }                                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                     \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        if (a_ != b_) h_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                           \
    do {                                                                                       \
        ik_status s_ = (expr);                                                                 \
        ik_status e_ = (expected);                                                             \
        if (s_ != e_)                                                                          \
            h_fail(__FILE__, __LINE__, "%s -> %d %s, expected %d %s", #expr, s_,              \
                   status_name(s_), e_, status_name(e_));                                      \
    } while (0)

#define CHECK_STREQ(a, b)                                                                      \
    do {                                                                                       \
        const char *a_ = (a), *b_ = (b);                                                       \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                   \
            h_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", \
                   b_ ? b_ : "(null)");                                                        \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                            \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                              \
            h_fail(__FILE__, __LINE__, "%s does not contain \"%s\": %.600s", #hay, n_,         \
                   h_ ? h_ : "(null)");                                                        \
    } while (0)

#define CHECK_NOT_CONTAINS(hay, needle)                                                        \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        if (h_ != NULL && n_ != NULL && *n_ != '\0' && strstr(h_, n_) != NULL)                 \
            h_fail(__FILE__, __LINE__, "%s contains \"%s\" (must not)", #hay, n_);             \
    } while (0)

/*
 * Checks an error result: the status, a non-NULL `*errp` whose accessors agree (status, code,
 * a non-empty message), then frees it and resets `*errp`. `code` may be NULL (any code).
 */
H_UNUSED static void h_check_err(const char *file, int line, const char *what, ik_status got,
                                 ik_error **errp, ik_status expected, const char *code) {
    ik_error *e = *errp;
    if (got != expected)
        h_fail(file, line, "%s -> %d %s, expected %d %s (code %s: %s)", what, got,
               status_name(got), expected, status_name(expected), e ? ik_error_code(e) : "-",
               e ? ik_error_message(e) : "-");
    if (got == IK_OK) {
        if (e != NULL) h_fail(file, line, "%s: *err written on success", what);
    } else if (e == NULL) {
        h_fail(file, line, "%s: failed with %d but *err is NULL", what, got);
    } else {
        const char *c = ik_error_code(e);
        const char *m = ik_error_message(e);
        if (ik_error_status(e) != got)
            h_fail(file, line, "%s: ik_error_status %d != returned %d", what, ik_error_status(e),
                   got);
        if (c == NULL) h_fail(file, line, "%s: ik_error_code is NULL", what);
        if (m == NULL || *m == '\0') h_fail(file, line, "%s: empty ik_error_message", what);
        if (code != NULL && (c == NULL || strcmp(c, code) != 0))
            h_fail(file, line, "%s: code \"%s\", expected \"%s\" (%s)", what, c ? c : "(null)",
                   code, m ? m : "");
        h_log("%s -> %s [%s] %s", what, status_name(got), c ? c : "", m ? m : "");
    }
    ik_error_free(e);
    *errp = NULL;
}

#define CHECK_ERR(expr, errp, expected, code)                                                  \
    h_check_err(__FILE__, __LINE__, #expr, (expr), (errp), (expected), (code))

/* Checks IK_OK; on failure prints the error and frees it. */
H_UNUSED static int h_check_ok(const char *file, int line, const char *what, ik_status got,
                               ik_error **errp) {
    if (got == IK_OK && *errp == NULL) return 1;
    h_fail(file, line, "%s -> %d %s, expected IK_OK (code %s: %s)", what, got, status_name(got),
           *errp ? ik_error_code(*errp) : "-", *errp ? ik_error_message(*errp) : "-");
    ik_error_free(*errp);
    *errp = NULL;
    return 0;
}

#define CHECK_OK(expr, errp) h_check_ok(__FILE__, __LINE__, #expr, (expr), (errp))
#define REQUIRE_OK(expr, errp)                                                                 \
    do {                                                                                       \
        if (!h_check_ok(__FILE__, __LINE__, #expr, (expr), (errp))) return;                    \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* Time, watchdog and runner                                                                */

H_UNUSED static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

H_UNUSED static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Timeouts are multiplied by IK_TEST_TIME_SCALE (e.g. 10 under valgrind). */
H_UNUSED static double h_scale(double seconds) {
    static double scale = 0;
    if (scale == 0) {
        const char *s = getenv("IK_TEST_TIME_SCALE");
        scale = s ? atof(s) : 1.0;
        if (scale < 1.0) scale = 1.0;
    }
    return seconds * scale;
}

static void h_watchdog(int sig) {
    char msg[256];
    int n;
    (void)sig;
    n = snprintf(msg, sizeof msg, "\n    TIMEOUT: test %s exceeded its time budget; aborting\n",
                 h_current);
    if (n > 0) {
        ssize_t w = write(2, msg, (size_t)n);
        (void)w;
    }
    _exit(3);
}

/* Runs one test with a watchdog of `budget_s` (scaled) seconds. */
H_UNUSED static void h_run(const char *name, void (*fn)(void), double budget_s) {
    double t0 = now_s();
    unsigned budget = (unsigned)h_scale(budget_s) + 1;
    const char *only = getenv("IK_TEST_ONLY");
    if (!h_always && only != NULL && *only != '\0' && strstr(name, only) == NULL) return;
    h_current = name;
    atomic_store(&h_current_failed, 0);
    signal(SIGALRM, h_watchdog);
    alarm(budget);
    fn();
    alarm(0);
    if (atomic_load(&h_current_failed) == 0) {
        h_passed++;
        printf("  ok   %-52s %6.2fs\n", name, now_s() - t0);
    } else {
        h_failed++;
        printf("  FAIL %-52s %6.2fs\n", name, now_s() - t0);
    }
    fflush(stdout);
}

#define RUN(fn, budget_s) h_run(#fn, fn, (budget_s))

H_UNUSED static int h_summary(void) {
    printf("%d passed, %d failed\n", h_passed, h_failed);
    fflush(stdout);
    return h_failed == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Result buffers                                                                           */

/* The integer after the first `key` (such as "\"length\":") in `json`; -1 when absent. */
H_UNUSED static long json_int(const char *json, const char *key) {
    const char *at = json ? strstr(json, key) : NULL;
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

/* Checks a result buffer (see "Result buffers" in inferencekey.h, c-abi rules 10a and 25): the
 * reported length is the JSON text's (without the NUL) and the buffer starts 16-byte aligned.
 * When the JSON names a binary part ({"offset","length","dtype"}), its offset is a multiple
 * of 16 past the text's NUL. Returns the part (NULL when none); its length goes to `*part_len`
 * when that is not NULL. */
H_UNUSED static const unsigned char *h_result_part(const char *file, int line, const char *buf,
                                                   size_t len, size_t *part_len) {
    size_t text = strlen(buf);
    long part, offset;
    const char *ref;
    if (text != len) h_fail(file, line, "result length %zu != strlen %zu (rule 10a)", len, text);
    if ((uintptr_t)buf % 16 != 0)
        h_fail(file, line, "result buffer %p is not 16-byte aligned (rule 25)", (void *)buf);
    /* The two results with a part: generate_text (`raw_part`), embed (`embeddings`, unless
     * the vectors are ragged lists). */
    ref = strstr(buf, "\"raw_part\":{");
    if (ref == NULL) ref = strstr(buf, "\"embeddings\":{");
    if (ref == NULL) return NULL;
    if (strstr(ref, "\"dtype\":\"utf8\"") == NULL && strstr(ref, "\"dtype\":\"f64le\"") == NULL)
        h_fail(file, line, "binary part without a known dtype: %.300s", ref);
    offset = json_int(ref, "\"offset\":");
    part = json_int(ref, "\"length\":");
    if (offset < 0 || part < 0 || offset % 16 != 0 || (size_t)offset <= text) {
        h_fail(file, line, "binary part at offset %ld (length %ld) after %zu bytes of JSON", offset,
               part, text);
        return NULL;
    }
    if (part_len != NULL) *part_len = (size_t)part;
    return (const unsigned char *)buf + offset;
}
#define RESULT_PART(buf, len, part_len) h_result_part(__FILE__, __LINE__, (buf), (len), (part_len))

/* ---------------------------------------------------------------------------------------- */
/* Waiting for `_async` callbacks                                                           */

/* The name the library gives its delivery thread (rule 18a). */
#define DELIVERY_THREAD_NAME "inferencekey-cb"

typedef struct waiter waiter;
typedef void (*waiter_hook)(waiter *w, ik_status st, const char *json, size_t len,
                            const ik_error *err);

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    ik_status status;
    char *json; /* copy of the callback's json, or NULL */
    size_t json_len;
    ik_status err_status;
    int err_http;
    char code[128];
    char message[2048];
    char details[4096];
    char request_id[128]; /* the error's request id, "" when none */
    int has_details;
    pthread_t caller;
    int on_caller_thread;
    pthread_t thread;      /* the thread the callback ran on */
    char thread_name[32];  /* its name */
    waiter_hook hook; /* runs inside the callback, on the delivery thread */
    void *ctx;
    /* keep: the callback leaves its json and err (which it owns) here for the test to free,
     * instead of freeing them itself after copying. */
    int keep;
    char *kept_json;
    ik_error *kept_err;
};

/* Heap-allocated so that a late (second) callback after `waiter_free` is a use-after-free
 * that AddressSanitizer and valgrind report. */
H_UNUSED static waiter *waiter_new(void) {
    waiter *w = calloc(1, sizeof *w);
    pthread_condattr_t attr;
    if (w == NULL) abort();
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    w->caller = pthread_self();
    return w;
}

/* Frees the waiter (not what a `keep` waiter kept: the test frees that itself). */
H_UNUSED static void waiter_free(waiter *w) {
    if (w == NULL) return;
    free(w->json);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

/* Forget a completed call to reuse the waiter. */
H_UNUSED static void waiter_reset(waiter *w) {
    pthread_mutex_lock(&w->mu);
    free(w->json);
    w->json = NULL;
    w->json_len = 0;
    w->calls = 0;
    w->status = 0;
    w->err_status = 0;
    w->err_http = 0;
    w->code[0] = w->message[0] = w->details[0] = w->request_id[0] = '\0';
    w->has_details = 0;
    w->caller = pthread_self();
    w->thread_name[0] = '\0';
    w->kept_json = NULL;
    w->kept_err = NULL;
    pthread_mutex_unlock(&w->mu);
}

/* The `ik_callback` of every async test: checks the callback contract, copies what it got and
 * then frees `json` and `err`, which it owns (rule 18a), unless the waiter keeps them. */
H_UNUSED static void waiter_cb(void *user_data, ik_status st, char *json, size_t len,
                               ik_error *err) {
    waiter *w = user_data;
    if (w == NULL) {
        h_fail(__FILE__, __LINE__, "callback got a NULL user_data");
        ik_buffer_free(json);
        ik_error_free(err);
        return;
    }
    if (st == IK_OK && err != NULL) h_fail(__FILE__, __LINE__, "callback: IK_OK with an err");
    if (st != IK_OK) {
        if (err == NULL) h_fail(__FILE__, __LINE__, "callback: status %d without err", st);
        if (json != NULL) h_fail(__FILE__, __LINE__, "callback: status %d with json", st);
        if (err != NULL && ik_error_status(err) != st)
            h_fail(__FILE__, __LINE__, "callback: ik_error_status %d != %d", ik_error_status(err),
                   st);
    }
    if (json != NULL) (void)h_result_part(__FILE__, __LINE__, json, len, NULL);
    if (json == NULL && len != 0) h_fail(__FILE__, __LINE__, "callback: NULL json, len %zu", len);
    if (w->hook) w->hook(w, st, json, len, err);
    pthread_mutex_lock(&w->mu);
    w->calls++;
    if (w->calls > 1)
        h_fail(__FILE__, __LINE__, "callback ran %d times (must be exactly once)", w->calls);
    w->on_caller_thread = pthread_equal(pthread_self(), w->caller);
    w->thread = pthread_self();
    if (pthread_getname_np(pthread_self(), w->thread_name, sizeof w->thread_name) != 0)
        snprintf(w->thread_name, sizeof w->thread_name, "?");
    w->status = st;
    free(w->json);
    w->json = json ? strdup(json) : NULL; /* the JSON; binary parts are checked above */
    w->json_len = len;
    if (err != NULL) {
        const char *c = ik_error_code(err), *m = ik_error_message(err);
        const char *d = ik_error_details_json(err), *r = ik_error_request_id(err);
        w->err_status = ik_error_status(err);
        w->err_http = ik_error_http_status(err);
        snprintf(w->code, sizeof w->code, "%s", c ? c : "(null)");
        snprintf(w->message, sizeof w->message, "%s", m ? m : "(null)");
        w->has_details = d != NULL;
        snprintf(w->details, sizeof w->details, "%s", d ? d : "");
        snprintf(w->request_id, sizeof w->request_id, "%s", r ? r : "");
    }
    if (w->keep) {
        w->kept_json = json;
        w->kept_err = err;
    } else {
        ik_buffer_free(json);
        ik_error_free(err);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until the callback ran (returns 1) or `timeout_s` (scaled) passed (returns 0). */
H_UNUSED static int waiter_wait(waiter *w, double timeout_s) {
    struct timespec deadline;
    int done;
    double t = h_scale(timeout_s);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)t;
    deadline.tv_nsec += (long)((t - (double)(time_t)t) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (w->calls == 0) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT) break;
    }
    done = w->calls > 0;
    pthread_mutex_unlock(&w->mu);
    return done;
}

H_UNUSED static int waiter_calls(waiter *w) {
    int n;
    pthread_mutex_lock(&w->mu);
    n = w->calls;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* Waits for the callback and checks it completed with `expected` (and `code` when given), on
 * the library's delivery thread (never the caller's, rule 18a). */
H_UNUSED static int h_check_async(const char *file, int line, const char *what, waiter *w,
                                  double timeout_s, ik_status expected, const char *code) {
    if (!waiter_wait(w, timeout_s)) {
        h_fail(file, line, "%s: no callback within %.1fs", what, h_scale(timeout_s));
        return 0;
    }
    if (w->on_caller_thread)
        h_fail(file, line, "%s: callback ran on the caller's thread (must be the delivery thread)",
               what);
    if (strcmp(w->thread_name, DELIVERY_THREAD_NAME) != 0)
        h_fail(file, line, "%s: callback ran on thread \"%s\", expected \"%s\"", what,
               w->thread_name, DELIVERY_THREAD_NAME);
    if (w->status != expected) {
        h_fail(file, line, "%s: callback status %d %s, expected %d %s (%s: %s)", what, w->status,
               status_name(w->status), expected, status_name(expected), w->code, w->message);
        return 0;
    }
    if (expected == IK_OK) return 1;
    if (w->err_status != expected)
        h_fail(file, line, "%s: callback err status %d != %d", what, w->err_status, expected);
    if (code != NULL && strcmp(w->code, code) != 0)
        h_fail(file, line, "%s: callback code \"%s\", expected \"%s\" (%s)", what, w->code, code,
               w->message);
    h_log("%s -> callback %s [%s] %s", what, status_name(w->status), w->code, w->message);
    return 1;
}

#define CHECK_ASYNC(w, timeout_s, expected, code)                                              \
    h_check_async(__FILE__, __LINE__, #w, (w), (timeout_s), (expected), (code))

/* ---------------------------------------------------------------------------------------- */
/* JSON and network helpers                                                                 */

/* Copies the string value of the first `"key":"…"` in compact JSON into buf (escapes kept
 * verbatim except \" and \\). Returns 1 when found. */
H_UNUSED static int json_str(const char *json, const char *key, char *buf, size_t n) {
    char pat[128];
    const char *p;
    size_t i = 0;
    if (json == NULL || n == 0) return 0;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    p = strstr(json, pat);
    if (p == NULL) return 0;
    p += strlen(pat);
    while (*p && *p != '"' && i + 1 < n) {
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
        buf[i++] = *p++;
    }
    buf[i] = '\0';
    return *p == '"';
}

/* Appends `s` as a JSON string literal (with quotes) to buf. */
H_UNUSED static void json_quote(char *buf, size_t n, const char *s) {
    size_t i = strlen(buf);
    if (i + 1 >= n) return;
    buf[i++] = '"';
    for (; *s && i + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[i++] = '\\';
            buf[i++] = (char)c;
        } else if (c < 0x20) {
            i += (size_t)snprintf(buf + i, n - i, "\\u%04x", c);
        } else {
            buf[i++] = (char)c;
        }
    }
    if (i + 1 < n) buf[i++] = '"';
    buf[i] = '\0';
}

/* A loopback port nothing listens on: bind an ephemeral port, then close it. */
H_UNUSED static int closed_port(void) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int port = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ---------------------------------------------------------------------------------------- */
/* Fork                                                                                     */

/*
 * Runs `fn(ctx)` in a forked child and returns what it returned (0 = success), or -1 when the
 * child crashed or did not finish within `timeout_s` (scaled). The result travels through a
 * pipe, not the exit status: under valgrind a forked child reports the parent's runtime and
 * connection pools, which the library leaks there on purpose (c-abi rule 16), as lost memory,
 * and valgrind's --error-exitcode would then replace the child's status. The child ends with
 * _exit (no atexit handlers, no leak check of its own under AddressSanitizer).
 * Set IK_TEST_GDB_ON_HANG=1 to get the stacks of a hung child.
 */
H_UNUSED static int h_fork_run(int (*fn)(void *), void *ctx, double timeout_s) {
    int fds[2], status = 0, result = -1;
    double deadline;
    pid_t pid;
    if (pipe(fds) != 0) return -1;
    /* Let the runtime go idle first: forking while another thread holds an allocator lock can
     * hang the child under AddressSanitizer (GCC 12's libasan has no fork handlers for its
     * allocator). Not a library issue; glibc malloc (the valgrind build) is fork-safe. */
    sleep_ms(200);
    fflush(NULL);
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int r;
        close(fds[0]);
        r = fn(ctx);
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r) _exit(97);
        _exit(0);
    }
    close(fds[1]);
    deadline = now_s() + h_scale(timeout_s);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (now_s() >= deadline) {
            fprintf(stderr, "    forked child %d hung\n", (int)pid);
            if (getenv("IK_TEST_GDB_ON_HANG")) {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "gdb -q -p %d -batch -ex 'thread apply all bt' 1>&2",
                         (int)pid);
                if (system(cmd) != 0) fprintf(stderr, "gdb failed\n");
            }
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(fds[0]);
            return -1;
        }
        sleep_ms(20);
    }
    if (WIFSIGNALED(status) || read(fds[0], &result, sizeof result) != (ssize_t)sizeof result)
        result = -1;
    close(fds[0]);
    return result;
}

/* A sentinel that out-parameters must still hold after a failed call (c-abi rule 8). */
H_UNUSED static char h_sentinel_storage[8] = "SENTNL";
#define SENTINEL_STR (h_sentinel_storage)
#define SENTINEL_LEN ((size_t)0x5e5e5e)

/* A string literal as the (pointer, length) pair of the ABI, without its terminator. */
#define LIT(s) (s), (sizeof(s) - 1)

#endif /* IK_HARNESS_H */
