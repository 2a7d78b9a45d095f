package native

import (
	"runtime"
	"unsafe"
)

// The blocking forms of the data-plane calls, run on the calling goroutine's thread. Such a
// call costs one foreign call and the network wait, where the async path adds four thread
// hand-offs (the library's worker, its delivery thread, the callback, the goroutine's wake-up):
// most of the per-call time on a fast network. But each one holds its OS thread until the
// answer, so only a few run at once (slots); beyond them calls take the async path, which
// holds no thread, and a thousand calls in flight still need no thousand threads.

// fn(handle, req, len, cancel, &out, &out_len, &err)
type blockingFn func(h uintptr, req []byte, n uintptr, cancel uintptr, out *unsafe.Pointer, outLen *uintptr, err *uintptr) int32

var ikGenerate, ikEmbed, ikRerank blockingFn

// slots bounds the threads held by blocking calls: one per processor Go runs on, at least 2.
var slots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func (op Op) blocking() blockingFn {
	switch op {
	case OpGenerate:
		return ikGenerate
	case OpEmbed:
		return ikEmbed
	case OpRerank:
		return ikRerank
	}
	return nil
}

// TryBlocking runs op on this thread when op has a blocking form and a slot is free, and
// reports whether it ran. cancel (0: none) stops it from another goroutine; with none the
// library does its socket I/O on this thread directly.
func TryBlocking(op Op, h uintptr, req []byte, cancel Cancel) (Completion, bool) {
	fn := op.blocking()
	if fn == nil {
		return Completion{}, false
	}
	select {
	case slots <- struct{}{}:
	default:
		return Completion{}, false
	}
	defer func() { <-slots }()
	var out unsafe.Pointer
	var n, e uintptr
	st := fn(h, req, uintptr(len(req)), uintptr(cancel), &out, &n, &e)
	if st != 0 {
		return Completion{Status: st, Err: takeError(st, e)}, true
	}
	return Completion{Buf: Buffer{p: out, n: n}}, true
}
