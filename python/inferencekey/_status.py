"""ABI status numbers (c-abi §2), in one place. Numbers are stable and never reused."""

from __future__ import annotations

from typing import Final

IK_OK: Final = 0

IK_ERR_INVALID_ARG: Final = 1000
IK_ERR_NULL_ARG: Final = 1001
IK_ERR_INVALID_UTF8: Final = 1002
IK_ERR_INVALID_JSON: Final = 1003
IK_ERR_INVALID_STATE: Final = 1004
#: A freed, foreign or other-kind handle (c-abi rule 9a); a binding bug.
IK_ERR_INVALID_HANDLE: Final = 1005
IK_ERR_CONFIG: Final = 1100
IK_ERR_AUTH: Final = 1200
IK_ERR_PERMISSION: Final = 1300
IK_ERR_VALIDATION: Final = 1400
IK_ERR_DRIFT: Final = 1401
IK_ERR_NOT_FOUND: Final = 1500
IK_ERR_CONFLICT: Final = 1600
IK_ERR_RATE_LIMITED: Final = 1700
IK_ERR_API: Final = 1800
IK_ERR_SERVER: Final = 1801
IK_ERR_WORKLOAD_FAILED: Final = 1802
IK_ERR_CONNECTION: Final = 1900
IK_ERR_TIMEOUT: Final = 2000
IK_ERR_READINESS_TIMEOUT: Final = 2001
IK_ERR_CANCELLED: Final = 2100
#: A webhook delivery that does not verify (inferencekey.webhooks.verify).
IK_ERR_WEBHOOK_SIGNATURE: Final = 2200
IK_ERR_PANIC: Final = 9000
IK_ERR_UNKNOWN: Final = 9999

#: Native log levels of ``ik_log_set_callback`` (0 = off).
IK_LOG_OFF: Final = 0
IK_LOG_ERROR: Final = 1
IK_LOG_WARN: Final = 2
IK_LOG_INFO: Final = 3
IK_LOG_DEBUG: Final = 4
