package native

import (
	"unsafe"
)

// Version is the library's semantic version.
func Version() string { return ikVersion() }

// resultCall runs fn(&out, &out_len, &err) and returns the buffer or the error.
func resultCall(fn func(out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32) (Buffer, *ErrorInfo) {
	var out unsafe.Pointer
	var n, e uintptr
	if st := fn(&out, &n, &e); st != 0 {
		return Buffer{}, takeError(st, e)
	}
	return Buffer{p: out, n: n}, nil
}

// resultJSON is resultCall with the JSON copied out and the buffer freed.
func resultJSON(fn func(out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32) ([]byte, *ErrorInfo) {
	buf, e := resultCall(fn)
	if e != nil {
		return nil, e
	}
	defer buf.Free()
	return append([]byte(nil), buf.JSON()...), nil
}

// HandleKind names a kind of handle the module creates and frees.
type HandleKind int

const (
	Management HandleKind = iota
	Data
	Endpoint
	Stream
	DevServer
)

// New creates a management or data client from config JSON.
func New(kind HandleKind, cfg []byte) (uintptr, *ErrorInfo) {
	fn := ikMgmtNew
	if kind == Data {
		fn = ikDataNew
	}
	var h, e uintptr
	if st := fn(cfg, uintptr(len(cfg)), &h, &e); st != 0 {
		return 0, takeError(st, e)
	}
	return h, nil
}

// Derive makes a handle from another: with_options of a client, or an endpoint of a data
// client (kind Endpoint).
func Derive(kind HandleKind, h uintptr, req []byte) (uintptr, *ErrorInfo) {
	var fn deriveFn
	switch kind {
	case Management:
		fn = ikMgmtWithOptions
	case Data:
		fn = ikDataWithOpts
	default:
		fn = ikEndpointNew
	}
	var out, e uintptr
	if st := fn(h, req, uintptr(len(req)), &out, &e); st != 0 {
		return 0, takeError(st, e)
	}
	return out, nil
}

// Describe returns the describe JSON of a client, an endpoint, or a stream's metadata.
func Describe(kind HandleKind, h uintptr) ([]byte, *ErrorInfo) {
	var fn describeFn
	switch kind {
	case Management:
		fn = ikMgmtDescribe
	case Data:
		fn = ikDataDescribe
	case Endpoint:
		fn = ikEndpointDescribe
	default:
		fn = ikStreamMetadata
	}
	return resultJSON(func(out *unsafe.Pointer, n *uintptr, e *uintptr) int32 { return fn(h, out, n, e) })
}

// Free frees a handle of the given kind; the library ignores a handle already freed.
func Free(kind HandleKind, h uintptr) {
	switch kind {
	case Management:
		ikMgmtFree(h)
	case Data:
		ikDataFree(h)
	case Endpoint:
		ikEndpFree(h)
	case Stream:
		ikStreamFree(h)
	case DevServer:
		ikDevFree(h)
	}
}

// CloseStream closes a stream (idempotent, any thread); a pending next completes cancelled.
func CloseStream(h uintptr) { ikStreamClose(h) }

// LiveObjects returns ik_live_objects' JSON.
func LiveObjects() ([]byte, *ErrorInfo) { return resultJSON(ikLiveObjects) }

// redact runs ik_text_redact or ik_token_redact; text must hold no NUL byte.
func redact(fn textFn, text string) (string, *ErrorInfo) {
	if text == "" {
		return "", nil
	}
	b := []byte(text)
	buf, e := resultCall(func(out *unsafe.Pointer, n *uintptr, err *uintptr) int32 {
		return fn(b, uintptr(len(b)), out, n, err)
	})
	if e != nil {
		return "", e
	}
	defer buf.Free()
	return string(buf.JSON()), nil
}

// RedactText is the core's ik_text_redact.
func RedactText(text string) (string, *ErrorInfo) { return redact(ikTextRedact, text) }

// RedactToken is the core's ik_token_redact.
func RedactToken(token string) (string, *ErrorInfo) { return redact(ikTokenRedact, token) }

// ValidateSpec is ik_workload_spec_validate.
func ValidateSpec(spec []byte) *ErrorInfo {
	var e uintptr
	if st := ikSpecValidate(spec, uintptr(len(spec)), &e); st != 0 {
		return takeError(st, e)
	}
	return nil
}

// ConfigureRuntime is ik_runtime_configure.
func ConfigureRuntime(cfg []byte) *ErrorInfo {
	var e uintptr
	if st := ikRuntimeConfig(cfg, uintptr(len(cfg)), &e); st != 0 {
		return takeError(st, e)
	}
	return nil
}

// DevStart starts the local platform; returns its handle and info JSON.
func DevStart(cfg []byte) (uintptr, []byte, *ErrorInfo) {
	var h uintptr
	info, e := resultJSON(func(out *unsafe.Pointer, n *uintptr, err *uintptr) int32 {
		return ikDevStart(cfg, uintptr(len(cfg)), &h, out, n, err)
	})
	return h, info, e
}

// DevQuery runs ik_dev_server_create_project (mint false) or ik_dev_server_mint_token.
func DevQuery(h uintptr, mint bool, req []byte) ([]byte, *ErrorInfo) {
	fn := ikDevCreateProject
	if mint {
		fn = ikDevMintToken
	}
	return resultJSON(func(out *unsafe.Pointer, n *uintptr, err *uintptr) int32 {
		return fn(h, req, uintptr(len(req)), out, n, err)
	})
}

// DevStop stops the local platform (idempotent).
func DevStop(h uintptr) { ikDevStop(h) }

// VerifyWebhook is ik_webhook_verify: the WebhookEvent JSON of a delivery that verifies. No
// network and no runtime: it runs on the calling goroutine.
func VerifyWebhook(payload, req []byte) ([]byte, *ErrorInfo) {
	var p *byte
	if len(payload) > 0 {
		p = &payload[0]
	}
	return resultJSON(func(out *unsafe.Pointer, n *uintptr, e *uintptr) int32 {
		return ikWebhookVerify(p, uintptr(len(payload)), req, uintptr(len(req)), out, n, e)
	})
}
