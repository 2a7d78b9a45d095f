package native

import (
	"os"
	"sync"
	"syscall"
)

// Waking a waiter from the delivery thread. A goroutine readied from a C thread's callback
// lands on the callback's P, which stays attached to that thread (in a syscall state) after
// the callback returns, until the scheduler's monitor takes it back: 20 µs to milliseconds.
// So the callback only queues the call and writes a byte to a pipe; the pipe's reader, a
// goroutine woken by the netpoller on a running P, wakes the waiters.
var (
	wakeMu    sync.Mutex
	wakeReady []*Call
	wakeW     int // the pipe's write end, written with a raw non-blocking write
)

func startWaker() {
	r, w, err := os.Pipe()
	if err != nil {
		panic("inferencekey: cannot create the wake pipe: " + err.Error())
	}
	wakeFile = w
	wakeW = int(w.Fd())
	_ = syscall.SetNonblock(wakeW, true)
	go func() {
		buf := make([]byte, 256)
		for {
			if _, err := r.Read(buf); err != nil {
				panic("inferencekey: the wake pipe failed: " + err.Error())
			}
			wakeMu.Lock()
			ready := wakeReady
			wakeReady = nil
			wakeMu.Unlock()
			for _, c := range ready {
				c.wake()
			}
		}
	}()
}

// wakeFile keeps the pipe's write end alive (its finalizer would close the descriptor that
// wakeLater writes).
//
//lint:ignore U1000 held only to stay reachable
var wakeFile *os.File

// wakeLater queues c for the waker; the first call queued since the waker's last read
// writes the pipe's byte (a full pipe means a byte is already waiting).
func wakeLater(c *Call) {
	wakeMu.Lock()
	first := len(wakeReady) == 0
	wakeReady = append(wakeReady, c)
	wakeMu.Unlock()
	if first {
		_, _ = syscall.Write(wakeW, []byte{1})
	}
}
