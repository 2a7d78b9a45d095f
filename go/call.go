package inferencekey

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// handle is a native handle with its release: Close frees it once, and a cleanup frees it if
// its owner is garbage-collected unclosed.
type handle struct {
	kind    native.HandleKind
	id      uintptr
	once    sync.Once
	cleanup runtime.Cleanup
}

// track frees h when owner becomes unreachable without Close (the safety net).
func track[T any](owner *T, h *handle) {
	h.cleanup = runtime.AddCleanup(owner, (*handle).release, h)
}

// close frees the handle now and disarms the safety net.
func (h *handle) close() {
	h.cleanup.Stop()
	h.release()
}

func (h *handle) release() {
	h.once.Do(func() { native.Free(h.kind, h.id) })
}

// run performs one operation with a cancel token tied to ctx (none when ctx cannot end), on
// this thread when a blocking slot is free (see native.TryBlocking), else on the shared
// runtime, parking until its completion. It hands the buffer to decode, then frees it.
func run(ctx context.Context, op native.Op, h uintptr, req any, decode func(native.Buffer) error) error {
	body, err := encode(req)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &Error{Kind: KindCancelled, Code: CodeCancelled, Message: "the context ended before the call", cause: err}
	}
	cancel := tokenFor(ctx)
	defer cancel.Free()
	if c, ran := runBlocking(ctx, op, h, body, cancel); ran {
		var ctxErr error
		if c.Err != nil {
			ctxErr = ctx.Err()
		}
		return complete(c, ctxErr, decode)
	}
	call, info := native.Start(op, h, body, cancel)
	if info != nil {
		return errorFromNative(info)
	}
	return finish(ctx, call, cancel, nil, decode)
}

// runBlocking tries op on this thread; ctx ending cancels it through cancel, which is not
// freed before the cancelling goroutine is done with it.
func runBlocking(ctx context.Context, op native.Op, h uintptr, body []byte, cancel native.Cancel) (native.Completion, bool) {
	if cancel == 0 {
		return native.TryBlocking(op, h, body, 0)
	}
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		cancel.Cancel()
		close(cancelled)
	})
	c, ran := native.TryBlocking(op, h, body, cancel)
	if !stop() {
		<-cancelled
	}
	return c, ran
}

// tokenFor makes a cancel token when ctx can end; none otherwise (no cost for Background).
func tokenFor(ctx context.Context) native.Cancel {
	if ctx.Done() == nil {
		return 0
	}
	return native.NewCancel()
}

// finish waits for a call and decodes (then frees) its result.
func finish(ctx context.Context, call *native.Call, cancel native.Cancel, onEvent func([]byte), decode func(native.Buffer) error) error {
	c, ctxErr := call.Wait(ctx, cancel, onEvent)
	return complete(c, ctxErr, decode)
}

// complete decodes (then frees) a completion's result, or turns its error into an *Error
// (caused by ctxErr when the context ended first).
func complete(c native.Completion, ctxErr error, decode func(native.Buffer) error) error {
	defer c.Buf.Free()
	if c.Err != nil {
		e := errorFromNative(c.Err)
		e.cause = ctxErr
		return e
	}
	if decode == nil {
		return nil
	}
	return decode(c.Buf)
}

// decodeJSON decodes a buffer's JSON into v.
func decodeJSON(v any) func(native.Buffer) error {
	return func(b native.Buffer) error {
		if err := json.Unmarshal(b.JSON(), v); err != nil {
			return localError(KindAPI, CodeInvalidResponse, "the library returned JSON this module cannot read: %v", err)
		}
		return nil
	}
}
