/*
 * Test-only declarations for the C ABI tests. The library exports these symbols, but the
 * public header (include/inferencekey.h) leaves them out on purpose (c-abi §7).
 */
#ifndef IK_TEST_H
#define IK_TEST_H

#include "inferencekey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Panics inside the library's panic boundary; returns IK_ERR_PANIC with an `internal_panic`
 * error and must never unwind into C. */
ik_status ik_test_force_panic(ik_error **err);

#ifdef __cplusplus
}
#endif

#endif /* IK_TEST_H */
