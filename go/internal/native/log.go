package native

import (
	"sync/atomic"
	"unsafe"
)

var (
	logTrampoline uintptr
	logSink       atomic.Pointer[func(level int32, record []byte)]
)

// onLog runs on whichever thread logs (runtime threads included): it copies the borrowed
// record and hands it to the sink, which must not block.
func onLog(_ uintptr, level int32, json unsafe.Pointer, n uintptr) {
	sink := logSink.Load()
	if sink == nil || json == nil {
		return
	}
	(*sink)(level, append([]byte(nil), unsafe.Slice((*byte)(json), n)...))
}

// SetLog sends the core's records up to maxLevel (1 error … 4 debug) to sink; maxLevel 0 or
// a nil sink turns logging off.
func SetLog(maxLevel int32, sink func(level int32, record []byte)) *ErrorInfo {
	var e uintptr
	if maxLevel == 0 || sink == nil {
		logSink.Store(nil)
		if st := ikLogSet(0, 0, 0, &e); st != 0 {
			return takeError(st, e)
		}
		return nil
	}
	logSink.Store(&sink)
	if st := ikLogSet(maxLevel, logTrampoline, 0, &e); st != 0 {
		return takeError(st, e)
	}
	return nil
}
