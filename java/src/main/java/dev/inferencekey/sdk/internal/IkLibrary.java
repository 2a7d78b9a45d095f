package dev.inferencekey.sdk.internal;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * The C ABI of {@code include/inferencekey.h}, as JNA maps it. Strings cross as UTF-8 byte
 * arrays with their length; handles are opaque {@link Pointer}s; {@code size_t} is {@link SizeT}.
 */
public interface IkLibrary extends Library {
    /** {@code ik_callback}: completion of every {@code _async} export. */
    interface CompletionCallback extends Callback {
        void invoke(Pointer userData, int status, Pointer json, SizeT jsonLen, Pointer err);
    }

    /** {@code ik_interrupt_check}: nonzero stops the blocking call of the calling thread. */
    interface InterruptCheck extends Callback {
        int invoke(Pointer userData);
    }

    /** {@code ik_log_callback}: one redacted record as JSON; from any thread, must not block. */
    interface LogCallback extends Callback {
        void invoke(Pointer userData, int level, Pointer json, SizeT jsonLen);
    }

    int ik_abi_version();

    String ik_version();

    void ik_buffer_free(Pointer buf);

    Pointer ik_cancel_new();

    void ik_cancel_cancel(Pointer c);

    void ik_cancel_free(Pointer c);

    void ik_error_free(Pointer e);

    int ik_error_status(Pointer e);

    int ik_error_http_status(Pointer e);

    Pointer ik_error_code(Pointer e);

    Pointer ik_error_message(Pointer e);

    Pointer ik_error_request_id(Pointer e);

    Pointer ik_error_details_json(Pointer e);

    void ik_interrupt_set_check(InterruptCheck check, Pointer userData);

    void ik_runtime_shutdown();

    int ik_runtime_configure(byte[] cfg, SizeT len, PointerByReference err);

    int ik_log_set_callback(int maxLevel, LogCallback cb, Pointer userData, PointerByReference err);

    int ik_live_objects(PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_text_redact(byte[] text, SizeT len, PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_token_redact(byte[] text, SizeT len, PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_workload_spec_validate(byte[] spec, SizeT len, PointerByReference err);

    // Local platform.
    int ik_dev_server_start(byte[] cfg, SizeT len, PointerByReference out, PointerByReference info,
            SizeTByReference infoLen, PointerByReference err);

    int ik_dev_server_create_project(Pointer s, byte[] req, SizeT len, PointerByReference out,
            SizeTByReference outLen, PointerByReference err);

    int ik_dev_server_mint_token(Pointer s, byte[] req, SizeT len, PointerByReference out,
            SizeTByReference outLen, PointerByReference err);

    void ik_dev_server_stop(Pointer s);

    void ik_dev_server_free(Pointer s);

    // Control plane.
    int ik_management_client_new(byte[] cfg, SizeT len, PointerByReference out, PointerByReference err);

    int ik_management_client_with_options(Pointer c, byte[] opts, SizeT len, PointerByReference out,
            PointerByReference err);

    int ik_management_client_describe(Pointer c, PointerByReference out, SizeTByReference outLen,
            PointerByReference err);

    void ik_management_client_free(Pointer c);

    int ik_management_client_ensure(Pointer c, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_management_client_ensure_async(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_management_client_plan(Pointer c, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_management_client_plan_async(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_management_client_list(Pointer c, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_management_client_list_async(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_management_client_get(Pointer c, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_management_client_get_async(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_management_client_delete(Pointer c, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_management_client_delete_async(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_management_client_wait_until_ready(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback onEvent, Pointer eventUserData, PointerByReference out,
            SizeTByReference outLen, PointerByReference err);

    int ik_management_client_wait_until_ready_async(Pointer c, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback onEvent, Pointer eventUserData, CompletionCallback cb, Pointer userData,
            PointerByReference err);

    // Data plane.
    int ik_data_client_new(byte[] cfg, SizeT len, PointerByReference out, PointerByReference err);

    int ik_data_client_with_options(Pointer c, byte[] opts, SizeT len, PointerByReference out,
            PointerByReference err);

    int ik_data_client_describe(Pointer c, PointerByReference out, SizeTByReference outLen,
            PointerByReference err);

    void ik_data_client_free(Pointer c);

    int ik_endpoint_new(Pointer c, byte[] req, SizeT len, PointerByReference out, PointerByReference err);

    int ik_endpoint_describe(Pointer e, PointerByReference out, SizeTByReference outLen,
            PointerByReference err);

    void ik_endpoint_free(Pointer e);

    int ik_endpoint_generate_text(Pointer e, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_endpoint_generate_text_async(Pointer e, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_endpoint_generate_text_stream(Pointer e, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, PointerByReference err);

    int ik_endpoint_generate_text_stream_async(Pointer e, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_endpoint_embed(Pointer e, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_endpoint_embed_async(Pointer e, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_endpoint_rerank(Pointer e, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_endpoint_rerank_async(Pointer e, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    int ik_endpoint_submit_job(Pointer e, byte[] req, SizeT len, Pointer cancel,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_endpoint_submit_job_async(Pointer e, byte[] req, SizeT len, Pointer cancel,
            CompletionCallback cb, Pointer userData, PointerByReference err);

    // Webhooks: no handle, no runtime.
    int ik_webhook_verify(byte[] payload, SizeT payloadLen, byte[] req, SizeT reqLen,
            PointerByReference out, SizeTByReference outLen, PointerByReference err);

    // Streams.
    int ik_stream_next(Pointer s, PointerByReference out, SizeTByReference outLen, PointerByReference err);

    int ik_stream_metadata(Pointer s, PointerByReference out, SizeTByReference outLen,
            PointerByReference err);

    void ik_stream_close(Pointer s);

    void ik_stream_free(Pointer s);
}
