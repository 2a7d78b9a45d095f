/*
 * A deliberate leak, to prove the leak checkers of run.sh are armed (like the __asan_init
 * check proves ASan is linked). Not a test of the library.
 *
 *   leak_canary abi   leaks a string and an error returned by the library: valgrind must
 *                     report them (as "possibly lost", through the live-handle registry)
 *   leak_canary c     leaks a plain malloc block: LeakSanitizer must report it
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferencekey.h"

static void *volatile sink;

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "abi";
    if (strcmp(mode, "c") == 0) {
        sink = malloc(4242);
        sink = NULL;
        return 0;
    }
    {
        static const char cfg[] = "{\"base_url\":\"http://127.0.0.1:1\",\"sdk_token\":\"ik_sdk_a_b\"}";
        ik_management_client *m = NULL;
        ik_error *err = NULL;
        char *out = NULL;
        if (ik_management_client_new(cfg, sizeof cfg - 1, &m, NULL) != IK_OK) return 2;
        if (ik_management_client_describe(m, &out, NULL, NULL) != IK_OK) return 2;
        (void)ik_management_client_new("{", 1, NULL, &err);
        out = NULL; /* leaked: never passed to ik_buffer_free */
        err = NULL; /* leaked: never passed to ik_error_free */
        ik_management_client_free(m);
        (void)out;
        (void)err;
    }
    return 0;
}
