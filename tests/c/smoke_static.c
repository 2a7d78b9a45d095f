/*
 * Static-link smoke test: compiled against the committed public header only and linked with
 * target/<profile>/libinferencekey.a (-lpthread -ldl -lm). Proves the archive is
 * self-contained and the header matches it: versions, a client, an error, a runtime call.
 *
 * Prints `ik_version=…` and `ik_abi_version=…` for the runner's version check; exits 0 when
 * everything matched.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inferencekey.h"

static int failures;

#define EXPECT(cond)                                                                           \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "smoke_static: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

static int closed_port(void) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int port = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return port;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int main(void) {
    char cfg[256];
    ik_management_client *m = NULL;
    ik_error *err = NULL;
    ik_cancel *c;
    char *out = NULL;
    size_t len = 0;

    printf("ik_version=%s\n", ik_version());
    printf("ik_abi_version=%u\n", (unsigned)ik_abi_version());
    EXPECT(strcmp(ik_version(), IK_VERSION) == 0);
    EXPECT(ik_abi_version() == IK_ABI_VERSION);

    /* An argument error, through the public header's types. */
    EXPECT(ik_management_client_new("{", 1, &m, &err) == IK_ERR_INVALID_JSON);
    EXPECT(err != NULL && ik_error_status(err) == IK_ERR_INVALID_JSON);
    EXPECT(err != NULL && strcmp(ik_error_code(err), "invalid_json") == 0);
    ik_error_free(err);
    err = NULL;

    /* A client and a real call on the runtime (connection refused). */
    snprintf(cfg, sizeof cfg,
             "{\"base_url\":\"http://127.0.0.1:%d\",\"sdk_token\":\"ik_sdk_smoke_x\","
             "\"project\":\"acme\",\"max_retries\":0}",
             closed_port());
    EXPECT(ik_management_client_new(cfg, strlen(cfg), &m, &err) == IK_OK);
    EXPECT(ik_management_client_describe(m, &out, &len, &err) == IK_OK);
    EXPECT(out != NULL && strlen(out) == len);
    ik_buffer_free(out);
    out = NULL;
    c = ik_cancel_new();
    EXPECT(ik_management_client_list(m, "{}", 2, c, &out, &len, &err) == IK_ERR_CONNECTION);
    EXPECT(out == NULL);
    ik_error_free(err);
    err = NULL;
    ik_cancel_cancel(c);
    EXPECT(ik_management_client_list(m, "{}", 2, c, &out, &len, &err) == IK_ERR_CANCELLED);
    ik_error_free(err);
    ik_cancel_free(c);
    ik_management_client_free(m);

    printf("smoke_static: %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
