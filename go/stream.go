package inferencekey

import (
	"context"
	"encoding/json"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// Stream is a stream of items: the chunks of a generation (GenerateTextStream) or a
// workload's readiness events (ReadinessEvents). Read it with Next and Current (then Err), or
// range over All; either way Close it (All does so itself). One goroutine reads at a time;
// Close may come from any goroutine and wakes a pending Next. The stream's context, given when
// it was opened, bounds every read: ending it stops the stream.
type Stream[T any] struct {
	ctx     context.Context
	res     *streamResources
	cleanup runtime.Cleanup
	decode  func(native.Buffer) (T, error)
	cur     T
	err     error
	done    bool
	closed  atomic.Bool
	// meta is the stream's metadata as read when it closed (the library's is gone then).
	metaMu sync.Mutex
	meta   *streamMetadata
}

// streamResources are what a stream holds in the library: its handle and cancel token.
type streamResources struct {
	id     uintptr
	cancel native.Cancel
	once   sync.Once
}

func (r *streamResources) release() {
	r.once.Do(func() {
		native.CloseStream(r.id)
		native.Free(native.Stream, r.id)
		r.cancel.Free()
	})
}

// GenerateTextStream opens a streamed generation. Errors of the exchange itself (auth, a
// missing workload, ...) are returned here; errors later in the stream come from Err.
func (e *Endpoint) GenerateTextStream(ctx context.Context, req TextRequest) (*Stream[TextChunk], error) {
	return openStream(ctx, false, e.h.id, req, decodeChunk)
}

// ReadinessEvents opens the workload's readiness events, the terminal one (phase ready or
// error) included; the stream ends after it. WaitUntilReady is the usual way to wait; this is
// for showing progress your own way. InProject applies.
func (c *ManagementClient) ReadinessEvents(ctx context.Context, slug string, opts ...CallOption) (*Stream[ReadinessEvent], error) {
	cfg := buildCall(opts)
	return openStream(ctx, true, c.h.id, slugRequest{Slug: slug, Project: cfg.project}, decodeEvent)
}

func openStream[T any](ctx context.Context, readiness bool, h uintptr, req any, decode func(native.Buffer) (T, error)) (*Stream[T], error) {
	body, err := encode(req)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindCancelled, Code: CodeCancelled, Message: "the context ended before the call", cause: err}
	}
	res := &streamResources{cancel: tokenFor(ctx)}
	id, call, info := native.OpenStream(readiness, h, body, res.cancel)
	res.id = id
	if info != nil {
		res.release()
		return nil, errorFromNative(info)
	}
	if err := finish(ctx, call, res.cancel, nil, nil); err != nil {
		res.release()
		return nil, err
	}
	s := &Stream[T]{ctx: ctx, res: res, decode: decode}
	s.cleanup = runtime.AddCleanup(s, (*streamResources).release, res)
	return s, nil
}

func decodeChunk(b native.Buffer) (TextChunk, error) {
	var r struct {
		Text         string  `json:"text"`
		FinishReason string  `json:"finish_reason"`
		RawPart      partRef `json:"raw_part"`
	}
	if err := decodeJSON(&r)(b); err != nil {
		return TextChunk{}, err
	}
	raw, err := b.Bytes(r.RawPart.Offset, r.RawPart.Length)
	if err != nil {
		return TextChunk{}, localError(KindAPI, CodeInvalidResponse, "%v", err)
	}
	return TextChunk{Text: r.Text, FinishReason: r.FinishReason, Raw: raw}, nil
}

func decodeEvent(b native.Buffer) (ReadinessEvent, error) {
	var ev ReadinessEvent
	return ev, decodeJSON(&ev)(b)
}

// Next reads the next chunk; false at the end of the stream or on an error (see Err).
func (s *Stream[T]) Next() bool {
	if s.done || s.closed.Load() {
		return false
	}
	call, info := native.Next(s.res.id, s.res.cancel)
	if info != nil {
		s.done, s.err = true, errorFromNative(info)
		return false
	}
	var item T
	var end bool
	err := finish(s.ctx, call, s.res.cancel, nil, func(b native.Buffer) error {
		if b.IsNil() {
			end = true
			return nil
		}
		var err error
		item, err = s.decode(b)
		return err
	})
	if err != nil || end {
		s.done, s.err = true, err
		return false
	}
	s.cur = item
	return true
}

// Current is the item the last successful Next read.
func (s *Stream[T]) Current() T { return s.cur }

// Err is the error that ended the stream, nil at a normal end.
func (s *Stream[T]) Err() error { return s.err }

// All ranges over the items; an error ends the range as its last pair. Breaking out of the
// loop closes the stream (and its connection).
func (s *Stream[T]) All() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		defer s.Close()
		for s.Next() {
			if !yield(s.cur, nil) {
				return
			}
		}
		if s.err != nil {
			var zero T
			yield(zero, s.err)
		}
	}
}

// streamMetadata is ik_stream_metadata: a chat stream's usage, a readiness stream's last event.
type streamMetadata struct {
	RequestID string          `json:"request_id"`
	Usage     *Usage          `json:"usage"`
	LastEvent *ReadinessEvent `json:"last_event"`
}

func (s *Stream[T]) metadata() streamMetadata {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if s.meta != nil {
		return *s.meta
	}
	var m streamMetadata
	if b, info := native.Describe(native.Stream, s.res.id); info == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

// RequestID is the server's request id for the stream.
func (s *Stream[T]) RequestID() string { return s.metadata().RequestID }

// Usage is a generation's token usage, once the server has sent it (nil before, and for
// readiness events); it stays readable after Close, so it can be read after ranging over All.
func (s *Stream[T]) Usage() *Usage { return s.metadata().Usage }

// Close closes the stream and its connection; a pending Next ends with kind cancelled.
// Closing twice is harmless.
func (s *Stream[T]) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	m := s.metadata()
	s.metaMu.Lock()
	s.meta = &m
	s.metaMu.Unlock()
	s.cleanup.Stop()
	s.res.release()
	return nil
}
