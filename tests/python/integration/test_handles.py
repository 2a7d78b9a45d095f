"""Handle liveness through the binding (c-abi rule 9a).

A closed client keeps raising the binding's own ``client_closed`` (Python tracks closing and
never passes a freed handle); a freed handle passed straight through cffi, as a binding bug
would, gets ``IK_ERR_INVALID_HANDLE`` (code ``invalid_handle``) from the library, however
many handles of its kind were made since. No platform needed: nothing here reaches the
network.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferencekey import DataClient, InferenceKeyError, ManagementClient
from inferencekey import _status as st
from inferencekey._ffi import NULL, ffi, lib, raise_error

pytestmark = pytest.mark.timeout(60)

BASE = "http://127.0.0.1:9"
SDK_TOKEN = "ik_sdk_pub12345_S3cr3tS3cr3tS3cr3t"
LIVE_KEY = "ik_live_pub67890_L1veS3cr3tL1veS3cr3t"


def new_management_ptr() -> Any:
    cfg = json.dumps({"base_url": BASE, "sdk_token": SDK_TOKEN}).encode()
    out, err = ffi.new("ik_management_client **"), ffi.new("ik_error **")
    status = lib.ik_management_client_new(cfg, len(cfg), out, err)
    if status:
        raise_error(status, err[0])
    return out[0]


def describe_status(ptr: Any) -> tuple[int, str, str]:
    """``ik_management_client_describe(ptr)``: the status and the error's code and message."""
    out, out_len, err = ffi.new("char **"), ffi.new("size_t *"), ffi.new("ik_error **")
    status = lib.ik_management_client_describe(ptr, out, out_len, err)
    if status == st.IK_OK:
        lib.ik_buffer_free(out[0])
        return status, "", ""
    code = ffi.string(lib.ik_error_code(err[0])).decode()
    message = ffi.string(lib.ik_error_message(err[0])).decode()
    lib.ik_error_free(err[0])
    return status, code, message


def test_a_closed_client_still_raises_client_closed() -> None:
    management = ManagementClient(base_url=BASE, sdk_token=SDK_TOKEN)
    data = DataClient(base_url=BASE, api_key=LIVE_KEY, project="acme")
    endpoint = data.endpoint("bot")
    management.close()
    endpoint.close()
    data.close()
    for call in (
        management.list,
        lambda: endpoint.generate_text(prompt="Hi"),
        lambda: endpoint.embed(input="x"),
        lambda: data.endpoint("bot"),
    ):
        with pytest.raises(InferenceKeyError) as caught:
            call()
        assert type(caught.value) is InferenceKeyError
        assert caught.value.code == "client_closed", repr(caught.value)


def test_a_freed_handle_through_cffi_is_an_invalid_handle() -> None:
    ptr = new_management_ptr()
    assert describe_status(ptr)[0] == st.IK_OK
    lib.ik_management_client_free(ptr)
    status, code, message = describe_status(ptr)
    assert status == st.IK_ERR_INVALID_HANDLE == 1005
    assert code == "invalid_handle"
    assert "ik_management_client" in message and "freed" in message
    # The binding's one error helper maps it to a plain InferenceKeyError.
    out, out_len, err = ffi.new("char **"), ffi.new("size_t *"), ffi.new("ik_error **")
    status = lib.ik_management_client_describe(ptr, out, out_len, err)
    with pytest.raises(InferenceKeyError) as caught:
        raise_error(status, err[0])
    assert type(caught.value) is InferenceKeyError
    assert caught.value.code == "invalid_handle"
    # Still refused while new clients come and go (their memory may reuse the old one's).
    for _ in range(200):
        fresh = new_management_ptr()
        assert fresh != ptr
        assert describe_status(ptr)[:2] == (st.IK_ERR_INVALID_HANDLE, "invalid_handle")
        assert describe_status(fresh)[0] == st.IK_OK
        lib.ik_management_client_free(fresh)
    lib.ik_management_client_free(ptr)  # a second free: ignored


def test_a_handle_of_another_kind_and_null_through_cffi() -> None:
    ptr = new_management_ptr()
    token = lib.ik_cancel_new()
    try:
        status, code, message = describe_status(ffi.cast("ik_management_client *", token))
        assert (status, code) == (st.IK_ERR_INVALID_HANDLE, "invalid_handle")
        assert "ik_cancel" in message and "another kind" in message
        status, code, _ = describe_status(NULL)
        assert (status, code) == (st.IK_ERR_NULL_ARG, "null_argument")
    finally:
        lib.ik_cancel_free(token)
        lib.ik_management_client_free(ptr)
