package native

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
)

// One process-wide C callback for every completion (and one for readiness events). Its
// user_data is an integer key into pending, never a Go pointer, so no Go memory is handed to
// C and no goroutine or OS thread waits inside the library: a call in flight is one map
// entry, and its caller's goroutine parks on a channel like any network wait.
var (
	trampoline      uintptr
	eventTrampoline uintptr
	pending         sync.Map // uintptr -> *Call
	nextKey         atomic.Uintptr
)

func newCallback(fn func(ud uintptr, status int32, json unsafe.Pointer, n uintptr, err uintptr)) uintptr {
	return purego.NewCallback(fn)
}

// Completion is what the library delivered for one call: a buffer (nil at the end of a
// stream) or an error. The receiver owns the buffer.
type Completion struct {
	Status int32
	Buf    Buffer
	Err    *ErrorInfo
}

// Call is one asynchronous operation in flight.
type Call struct {
	key    uintptr
	signal chan struct{} // capacity 1: "something was delivered"
	mu     sync.Mutex
	events [][]byte
	done   bool
	result Completion
}

// onCompletion runs on the library's delivery thread. It must not block: it reads the error
// (copied, then freed), files the result under the call's key and wakes the waiter.
func onCompletion(ud uintptr, status int32, json unsafe.Pointer, n uintptr, err uintptr) {
	c := Completion{Status: status, Buf: Buffer{p: json, n: n}}
	if status != 0 || err != 0 {
		c.Err = takeError(status, err)
	}
	v, ok := pending.LoadAndDelete(ud)
	if !ok { // cannot happen: every key is filed before its call starts
		c.Buf.Free()
		return
	}
	call := v.(*Call)
	call.mu.Lock()
	call.done, call.result = true, c
	call.mu.Unlock()
	wakeLater(call)
}

// onEvent runs on the delivery thread for each readiness event of a wait, always before the
// wait's completion: the event is copied, freed and queued for the waiting goroutine.
func onEvent(ud uintptr, _ int32, json unsafe.Pointer, n uintptr, err uintptr) {
	if err != 0 {
		ikErrorFree(err)
	}
	if json == nil {
		return
	}
	buf := Buffer{p: json, n: n}
	event := append([]byte(nil), buf.JSON()...)
	buf.Free()
	if v, ok := pending.Load(ud); ok {
		call := v.(*Call)
		call.mu.Lock()
		call.events = append(call.events, event)
		call.mu.Unlock()
		wakeLater(call)
	}
}

func (c *Call) wake() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func newCall() *Call {
	c := &Call{key: nextKey.Add(1), signal: make(chan struct{}, 1)}
	pending.Store(c.key, c)
	return c
}

// started turns a synchronous refusal into an error; the callback then never runs.
func (c *Call) started(st int32, e uintptr) (*Call, *ErrorInfo) {
	if st != 0 {
		pending.Delete(c.key)
		return nil, takeError(st, e)
	}
	return c, nil
}

// Op names an asynchronous operation taking a handle and request JSON.
type Op int

const (
	OpEnsure Op = iota
	OpPlan
	OpList
	OpGet
	OpDelete
	OpGenerate
	OpEmbed
	OpRerank
	OpSubmitJob
)

func (op Op) fn() asyncFn {
	return [...]asyncFn{ikEnsureAsync, ikPlanAsync, ikListAsync, ikGetAsync, ikDeleteAsync,
		ikGenerateAsync, ikEmbedAsync, ikRerankAsync, ikSubmitJobAsync}[op]
}

// Start begins op on handle h. cancel may be 0 (no token).
func Start(op Op, h uintptr, req []byte, cancel Cancel) (*Call, *ErrorInfo) {
	c := newCall()
	var e uintptr
	st := op.fn()(h, req, uintptr(len(req)), uintptr(cancel), trampoline, c.key, &e)
	return c.started(st, e)
}

// StartWait begins wait_until_ready; its events are queued for Wait's onEvent.
func StartWait(h uintptr, req []byte, cancel Cancel) (*Call, *ErrorInfo) {
	c := newCall()
	var e uintptr
	st := ikWaitAsync(h, req, uintptr(len(req)), uintptr(cancel), eventTrampoline, c.key, trampoline, c.key, &e)
	return c.started(st, e)
}

// OpenStream begins opening a chat stream (readiness false) or readiness events stream. The
// stream handle exists at once (free it even if the open fails); the call completes with the
// stream's metadata.
func OpenStream(readiness bool, h uintptr, req []byte, cancel Cancel) (uintptr, *Call, *ErrorInfo) {
	fn := ikGenerateStreamAsync
	if readiness {
		fn = ikReadinessEventsAsync
	}
	c := newCall()
	var s, e uintptr
	st := fn(h, req, uintptr(len(req)), uintptr(cancel), &s, trampoline, c.key, &e)
	call, err := c.started(st, e)
	return s, call, err
}

// Next begins pulling the next item of a stream.
func Next(s uintptr, cancel Cancel) (*Call, *ErrorInfo) {
	c := newCall()
	var e uintptr
	st := ikStreamNextAsync(s, uintptr(cancel), trampoline, c.key, &e)
	return c.started(st, e)
}

// Wait parks until the call completes, handing each queued event to onEvent (on this
// goroutine, never the library's thread). When ctx ends first, it cancels the call through
// cancel (which the library answers at once with IK_ERR_CANCELLED) and still waits for the
// completion, so that its buffer is always freed by the caller. It returns ctx's error when
// ctx ended before the completion.
func (c *Call) Wait(ctx context.Context, cancel Cancel, onEvent func([]byte)) (Completion, error) {
	done := ctx.Done()
	var ctxErr error
	for {
		select {
		case <-c.signal:
		case <-done:
			ctxErr, done = ctx.Err(), nil
			cancel.Cancel()
			continue
		}
		c.mu.Lock()
		events, finished, result := c.events, c.done, c.result
		c.events = nil
		c.mu.Unlock()
		if onEvent != nil {
			for _, ev := range events {
				onEvent(ev)
			}
		}
		if finished {
			return result, ctxErr
		}
	}
}

// Cancel is an ik_cancel token; 0 is "none".
type Cancel uintptr

// NewCancel makes a token.
func NewCancel() Cancel { return Cancel(ikCancelNew()) }

// Cancel cancels every call using the token.
func (c Cancel) Cancel() {
	if c != 0 {
		ikCancelCancel(uintptr(c))
	}
}

// Free frees the token; calls using it keep their own reference.
func (c Cancel) Free() {
	if c != 0 {
		ikCancelFree(uintptr(c))
	}
}
