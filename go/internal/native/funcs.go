package native

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// The exports, as purego binds them. Handles are opaque identifiers (never addresses), so they
// travel as uintptr; result buffers are real addresses and travel as unsafe.Pointer.
type (
	// fn(cfg, len, &handle, &err)
	newFn func(cfg []byte, n uintptr, out *uintptr, err *uintptr) int32
	// fn(handle, req, len, &handle, &err)
	deriveFn func(h uintptr, req []byte, n uintptr, out *uintptr, err *uintptr) int32
	// fn(handle, &out, &out_len, &err)
	describeFn func(h uintptr, out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32
	// fn(handle, req, len, &out, &out_len, &err)
	queryFn func(h uintptr, req []byte, n uintptr, out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32
	// fn(handle, req, len, cancel, cb, user_data, &err)
	asyncFn func(h uintptr, req []byte, n uintptr, cancel uintptr, cb uintptr, ud uintptr, err *uintptr) int32
	// fn(handle, req, len, cancel, &stream, cb, user_data, &err)
	openAsyncFn func(h uintptr, req []byte, n uintptr, cancel uintptr, out *uintptr, cb uintptr, ud uintptr, err *uintptr) int32
	// fn(text, len, &out, &out_len, &err)
	textFn func(text []byte, n uintptr, out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32
	freeFn func(h uintptr)
)

var (
	ikVersion       func() string
	ikBufferFree    func(p unsafe.Pointer)
	ikCancelNew     func() uintptr
	ikCancelCancel  freeFn
	ikCancelFree    freeFn
	ikErrorFree     freeFn
	ikErrorStatus   func(e uintptr) int32
	ikErrorHTTP     func(e uintptr) int32
	ikErrorCode     func(e uintptr) string
	ikErrorMessage  func(e uintptr) string
	ikErrorReqID    func(e uintptr) string
	ikErrorDetails  func(e uintptr) string
	ikLiveObjects   func(out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32
	ikTextRedact    textFn
	ikTokenRedact   textFn
	ikSpecValidate  func(spec []byte, n uintptr, err *uintptr) int32
	ikRuntimeConfig func(cfg []byte, n uintptr, err *uintptr) int32
	ikLogSet        func(maxLevel int32, cb uintptr, ud uintptr, err *uintptr) int32

	ikMgmtNew, ikDataNew               newFn
	ikMgmtWithOptions, ikDataWithOpts  deriveFn
	ikEndpointNew                      deriveFn
	ikMgmtDescribe, ikDataDescribe     describeFn
	ikEndpointDescribe                 describeFn
	ikMgmtFree, ikDataFree, ikEndpFree freeFn

	ikEnsureAsync, ikPlanAsync, ikListAsync, ikGetAsync, ikDeleteAsync asyncFn
	ikGenerateAsync, ikEmbedAsync, ikRerankAsync, ikSubmitJobAsync     asyncFn
	ikWaitAsync                                                        func(h uintptr, req []byte, n uintptr, cancel uintptr, onEvent uintptr, evUD uintptr, cb uintptr, ud uintptr, err *uintptr) int32
	ikGenerateStreamAsync, ikReadinessEventsAsync                      openAsyncFn
	ikStreamNextAsync                                                  func(s uintptr, cancel uintptr, cb uintptr, ud uintptr, err *uintptr) int32
	ikStreamMetadata                                                   describeFn
	ikStreamClose, ikStreamFree                                        freeFn

	// fn(payload, len, req, len, &out, &out_len, &err); payload may be NULL with length 0
	ikWebhookVerify func(payload *byte, pn uintptr, req []byte, n uintptr, out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32

	ikDevStart         func(cfg []byte, n uintptr, out *uintptr, info *unsafe.Pointer, infoLen *uintptr, err *uintptr) int32
	ikDevCreateProject queryFn
	ikDevMintToken     queryFn
	ikDevStop          freeFn
	ikDevFree          freeFn
)

func bindAll(lib uintptr) error {
	table := []struct {
		fptr any
		name string
	}{
		{&ikVersion, "ik_version"},
		{&ikBufferFree, "ik_buffer_free"},
		{&ikCancelNew, "ik_cancel_new"},
		{&ikCancelCancel, "ik_cancel_cancel"},
		{&ikCancelFree, "ik_cancel_free"},
		{&ikErrorFree, "ik_error_free"},
		{&ikErrorStatus, "ik_error_status"},
		{&ikErrorHTTP, "ik_error_http_status"},
		{&ikErrorCode, "ik_error_code"},
		{&ikErrorMessage, "ik_error_message"},
		{&ikErrorReqID, "ik_error_request_id"},
		{&ikErrorDetails, "ik_error_details_json"},
		{&ikLiveObjects, "ik_live_objects"},
		{&ikTextRedact, "ik_text_redact"},
		{&ikTokenRedact, "ik_token_redact"},
		{&ikSpecValidate, "ik_workload_spec_validate"},
		{&ikRuntimeConfig, "ik_runtime_configure"},
		{&ikLogSet, "ik_log_set_callback"},
		{&ikMgmtNew, "ik_management_client_new"},
		{&ikMgmtWithOptions, "ik_management_client_with_options"},
		{&ikMgmtDescribe, "ik_management_client_describe"},
		{&ikMgmtFree, "ik_management_client_free"},
		{&ikDataNew, "ik_data_client_new"},
		{&ikDataWithOpts, "ik_data_client_with_options"},
		{&ikDataDescribe, "ik_data_client_describe"},
		{&ikDataFree, "ik_data_client_free"},
		{&ikEndpointNew, "ik_endpoint_new"},
		{&ikEndpointDescribe, "ik_endpoint_describe"},
		{&ikEndpFree, "ik_endpoint_free"},
		{&ikEnsureAsync, "ik_management_client_ensure_async"},
		{&ikPlanAsync, "ik_management_client_plan_async"},
		{&ikListAsync, "ik_management_client_list_async"},
		{&ikGetAsync, "ik_management_client_get_async"},
		{&ikDeleteAsync, "ik_management_client_delete_async"},
		{&ikWaitAsync, "ik_management_client_wait_until_ready_async"},
		{&ikReadinessEventsAsync, "ik_management_client_readiness_events_async"},
		{&ikGenerateAsync, "ik_endpoint_generate_text_async"},
		{&ikGenerateStreamAsync, "ik_endpoint_generate_text_stream_async"},
		{&ikEmbedAsync, "ik_endpoint_embed_async"},
		{&ikRerankAsync, "ik_endpoint_rerank_async"},
		{&ikGenerate, "ik_endpoint_generate_text"},
		{&ikEmbed, "ik_endpoint_embed"},
		{&ikRerank, "ik_endpoint_rerank"},
		{&ikSubmitJobAsync, "ik_endpoint_submit_job_async"},
		{&ikWebhookVerify, "ik_webhook_verify"},
		{&ikStreamNextAsync, "ik_stream_next_async"},
		{&ikStreamMetadata, "ik_stream_metadata"},
		{&ikStreamClose, "ik_stream_close"},
		{&ikStreamFree, "ik_stream_free"},
		{&ikDevStart, "ik_dev_server_start"},
		{&ikDevCreateProject, "ik_dev_server_create_project"},
		{&ikDevMintToken, "ik_dev_server_mint_token"},
		{&ikDevStop, "ik_dev_server_stop"},
		{&ikDevFree, "ik_dev_server_free"},
	}
	for _, f := range table {
		if err := register(lib, f.fptr, f.name); err != nil {
			return err
		}
	}
	startWaker()
	trampoline = newCallback(onCompletion)
	eventTrampoline = newCallback(onEvent)
	logTrampoline = purego.NewCallback(onLog)
	// onCompletion and onEvent only file a result and wake its waiter, never block: they may
	// run on the runtime worker that finished the call, one thread hop sooner than on the
	// library's delivery thread. Refused only if the runtime already runs (another user of
	// the library in this process): the delivery thread then serves as well.
	_ = ConfigureRuntime([]byte(`{"callbacks":"worker"}`))
	return nil
}
