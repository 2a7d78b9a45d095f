package inferencekey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// A hostile or broken server: each answer becomes a typed error, never a panic or a hang.
func TestHostileServer(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		kind    inferencekey.Kind
	}{
		{"malformed JSON body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprint(w, `{"choices": [`)
		}, inferencekey.KindAPI},
		{"no choices", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprint(w, `{"choices": []}`)
		}, inferencekey.KindAPI},
		{"connection closed mid-body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "1000")
			_, _ = fmt.Fprint(w, `{"choices": [{"message": {"content": "hal`)
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		}, inferencekey.KindConnection},
		{"connection closed before any answer", func(w http.ResponseWriter, _ *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		}, inferencekey.KindConnection},
		{"an HTML error page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprint(w, "<html>bad gateway</html>")
		}, inferencekey.KindServer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ep := fakeEndpoint(t, fakeServer(t, c.handler).URL)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "hi"})
			wantKind(t, err, c.kind, sentinelOf[c.kind])
		})
	}
}

// A huge request (8 MiB of prompt) reaches the server whole.
func TestHugeRequest(t *testing.T) {
	var got atomic.Int64
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if len(body.Messages) > 0 {
			got.Store(int64(len(body.Messages[0].Content)))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	})
	ep := fakeEndpoint(t, srv.URL)
	prompt := strings.Repeat("a", 8<<20)
	out, err := ep.GenerateText(context.Background(), inferencekey.TextRequest{Prompt: prompt})
	if err != nil || out.Text != "ok" || got.Load() != int64(len(prompt)) {
		t.Fatalf("got %d bytes at the server, %v", got.Load(), err)
	}
}

// Closing the client and the endpoint while calls are in flight lets those calls finish.
func TestCloseWhileInFlight(t *testing.T) {
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	})
	data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(srv.URL), inferencekey.WithProject("acme"),
		inferencekey.WithAPIKey("ik_live_1a2b3c4d_"+strings.Repeat("0", 64)))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := data.Endpoint("bot")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ep.GenerateText(context.Background(), inferencekey.TextRequest{Prompt: "hi"})
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	_ = ep.Close()
	_ = data.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		// A call that started before Close finishes; one that had not yet started is refused
		// as a closed handle. Neither hangs nor panics.
		if err != nil && !strings.Contains(err.Error(), "invalid_handle") {
			t.Errorf("in-flight call: %v", err)
		}
	}
	if _, err := ep.GenerateText(context.Background(), inferencekey.TextRequest{Prompt: "hi"}); err == nil {
		t.Fatal("a call on a closed endpoint succeeded")
	}
}
