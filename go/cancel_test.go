package inferencekey_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// hangingServer accepts a request, never answers, and reports when the client closes it.
func hangingServer(t *testing.T) (url string, closed <-chan time.Time) {
	ch := make(chan time.Time, 16)
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		ch <- time.Now()
	})
	return srv.URL, ch
}

func fakeEndpoint(t *testing.T, url string) *inferencekey.Endpoint {
	t.Helper()
	data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(url), inferencekey.WithProject("acme"),
		inferencekey.WithAPIKey("ik_live_1a2b3c4d_"+strings.Repeat("0", 64)), inferencekey.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = data.Close() })
	ep, err := data.Endpoint("bot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

// Cancelling the context returns within 100 ms, with an error that is both ErrCancelled and
// context.Canceled, and the server sees its connection closed.
func TestContextCancel(t *testing.T) {
	url, closed := hangingServer(t)
	ep := fakeEndpoint(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	var cancelledAt time.Time
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancelledAt = time.Now()
		cancel()
	}()
	_, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "hi"})
	returned := time.Now()
	if !errors.Is(err, inferencekey.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d := returned.Sub(cancelledAt); d > 100*time.Millisecond {
		t.Fatalf("returned %v after the cancel", d)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the server never saw the connection close")
	}
}

// A deadline ends the call the same way, unwrapping to context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	url, closed := hangingServer(t)
	ep := fakeEndpoint(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ep.Embed(ctx, inferencekey.EmbedRequest{Input: []string{"a"}})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, inferencekey.ErrCancelled) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("returned after %v for a 150 ms deadline", d)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the server never saw the connection close")
	}
	// A context already ended sends nothing.
	_, err = ep.Embed(ctx, inferencekey.EmbedRequest{Input: []string{"a"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// Breaking out of a stream's range closes it in the core: the server sees the close.
func TestStreamBreakCloses(t *testing.T) {
	closed := make(chan struct{})
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 2; i++ {
			_, _ = fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w%d \"},\"finish_reason\":null}]}\n\n", i)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(closed)
	})
	ep := fakeEndpoint(t, srv.URL)
	stream, err := ep.GenerateTextStream(context.Background(), inferencekey.TextRequest{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for chunk, err := range stream.All() {
		if err != nil || chunk.Text != "w0 " {
			t.Fatalf("chunk %+v, %v", chunk, err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatalf("%d chunks", n)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the server never saw the stream close")
	}
	if stream.Next() {
		t.Fatal("Next after Close")
	}
	_ = stream.Close() // again: harmless
}

// Closing a stream from another goroutine wakes a pending Next.
func TestStreamCloseWakesNext(t *testing.T) {
	url, _ := hangingServer(t)
	ep := fakeEndpoint(t, url)
	stream, err := ep.GenerateTextStream(context.Background(), inferencekey.TextRequest{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = stream.Close()
	}()
	done := make(chan bool)
	go func() { done <- stream.Next() }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Next read a chunk from a closed stream")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next stayed blocked after Close")
	}
}

// A stream whose server breaks off before any finish reason ends with a connection error.
func TestStreamTruncated(t *testing.T) {
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n")
	})
	ep := fakeEndpoint(t, srv.URL)
	stream, err := ep.GenerateTextStream(context.Background(), inferencekey.TextRequest{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for stream.Next() {
	}
	wantKind(t, stream.Err(), inferencekey.KindConnection, inferencekey.ErrConnection)
}

// ReadinessEvents yields every event, the terminal one included, then ends.
func TestReadinessEvents(t *testing.T) {
	srv := readinessServer(t, []string{
		`{"phase":"scheduling","message":"queued","elapsed_ms":0}`,
		`{"phase":"bootstrapping","message":"loading","elapsed_ms":40,"step":"model_load"}`,
		`{"phase":"ready","message":"serving","elapsed_ms":612}`,
	}, false)
	stream, err := fakeMgmt(t, srv.URL).ReadinessEvents(context.Background(), "bot")
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for ev, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		phases = append(phases, ev.Phase)
	}
	if strings.Join(phases, ",") != "scheduling,bootstrapping,ready" {
		t.Fatalf("phases %v", phases)
	}
	// A missing workload fails at the open.
	_, err = fakeMgmt(t, fakeServer(t, answer(404, "not_found", "no bot")).URL).ReadinessEvents(context.Background(), "bot")
	wantKind(t, err, inferencekey.KindNotFound, inferencekey.ErrNotFound)
}
