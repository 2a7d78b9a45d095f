package inferencekey_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// fakeJobs is a fake platform's jobs route (the local platform's is not used here): it
// records each request and answers 202 with a job id, or 501 for the forecast kind.
type fakeJobs struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	path, auth string
	body       map[string]any
}

const fakeJobID = "0b9d4a6e-7c21-4f3e-8d5a-1e2f3a4b5c6d"

func (f *fakeJobs) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.URL.Path, r.Header.Get("Authorization"), body})
	f.mu.Unlock()
	switch {
	case r.URL.Path != "/endpoint/acme/bot/jobs":
		answer(404, "not_found", "no route")(w, r)
	case body["kind"] == "forecast":
		answer(501, "not_implemented", "kind forecast is not served here")(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_job_1")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"job_id":"`+fakeJobID+`"}`)
	}
}

func (f *fakeJobs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeJobs) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func TestSubmitJobWire(t *testing.T) {
	fake := &fakeJobs{}
	ep := fakeEndpoint(t, fakeServer(t, fake.serve).URL)
	ctx := context.Background()
	ref, err := ep.SubmitJob(ctx, inferencekey.JobRequest{
		Kind:    inferencekey.JobKindChat,
		Body:    map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}, "max_tokens": 5},
		Context: map[string]string{"order_id": "o-17"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ref != (inferencekey.JobRef{JobID: fakeJobID, Kind: inferencekey.JobKindChat, RequestID: "req_job_1"}) {
		t.Fatalf("ref %+v", ref)
	}
	got := fake.last()
	if got.path != "/endpoint/acme/bot/jobs" || !strings.HasPrefix(got.auth, "Bearer ik_live_") || got.body["kind"] != "chat" {
		t.Fatalf("sent %+v", got)
	}
	body, _ := got.body["body"].(map[string]any)
	if msgs, _ := body["messages"].([]any); len(msgs) != 1 || body["max_tokens"] != 5.0 {
		t.Fatalf("body %v", got.body)
	}
	if c, _ := got.body["context"].(map[string]any); c["order_id"] != "o-17" {
		t.Fatalf("context %v", got.body["context"])
	}
	if _, ok := got.body["body_b64"]; ok {
		t.Fatal("body_b64 sent with a JSON body")
	}

	// An alias goes out as its wire name, and a struct body works as a map does.
	type rerank struct {
		Query     string   `json:"query"`
		Documents []string `json:"documents"`
	}
	ref, err = ep.SubmitJob(ctx, inferencekey.JobRequest{Kind: "reranking", Body: rerank{"q", []string{"a", "b"}}})
	if err != nil || ref.Kind != inferencekey.JobKindRerank || fake.last().body["kind"] != "rerank" {
		t.Fatalf("alias: %+v %v %v", ref, err, fake.last().body)
	}

	// Bytes travel as base64 with their content type, exactly.
	raw := append([]byte{0, 1, 2, 0xfe, 0xff}, "--b\r\nContent-Disposition: form-data\r\n"...)
	_, err = ep.SubmitJob(ctx, inferencekey.JobRequest{Kind: inferencekey.JobKindAudioTranscriptions, BodyBytes: raw,
		ContentType: "multipart/form-data; boundary=b"})
	if err != nil {
		t.Fatal(err)
	}
	sent := fake.last().body
	decoded, err := base64.StdEncoding.DecodeString(sent["body_b64"].(string))
	if err != nil || !bytes.Equal(decoded, raw) || sent["content_type"] != "multipart/form-data; boundary=b" || sent["body"] != nil {
		t.Fatalf("sent %v", sent)
	}
}

func TestSubmitJobLocalChecks(t *testing.T) {
	fake := &fakeJobs{}
	ep := fakeEndpoint(t, fakeServer(t, fake.serve).URL)
	ctx := context.Background()
	for name, req := range map[string]inferencekey.JobRequest{
		"unknown kind":             {Kind: "teleport", Body: map[string]any{"x": 1}},
		"no kind":                  {Body: map[string]any{"x": 1}},
		"neither body":             {Kind: inferencekey.JobKindEmbeddings},
		"both bodies":              {Kind: inferencekey.JobKindEmbeddings, Body: map[string]any{"input": "x"}, BodyBytes: []byte("x"), ContentType: "text/plain"},
		"bytes for chat":           {Kind: inferencekey.JobKindChat, BodyBytes: []byte("hi"), ContentType: "text/plain"},
		"bytes, no content type":   {Kind: inferencekey.JobKindAudioTranscriptions, BodyBytes: []byte("x")},
		"a body that is no object": {Kind: inferencekey.JobKindEmbeddings, Body: []string{"x"}},
	} {
		_, err := ep.SubmitJob(ctx, req)
		if !errors.Is(err, inferencekey.ErrValidation) && !errors.Is(err, inferencekey.ErrInvalidJSON) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := ep.SubmitJob(ctx, inferencekey.JobRequest{Kind: "teleport", Body: map[string]any{}})
	if e := wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation); !strings.Contains(e.Message, "teleport") {
		t.Fatalf("message %q", e.Message)
	}
	if n := fake.count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestSubmitJobErrors(t *testing.T) {
	fake := &fakeJobs{}
	srv := fakeServer(t, fake.serve)
	ep := fakeEndpoint(t, srv.URL)
	_, err := ep.SubmitJob(context.Background(), inferencekey.JobRequest{Kind: inferencekey.JobKindForecast, Body: map[string]any{"series": []int{1, 2}}})
	e := wantKind(t, err, inferencekey.KindServer, inferencekey.ErrAPI)
	if e.StatusCode != 501 {
		t.Fatalf("status %d", e.StatusCode)
	}

	// A submission that reached the server is not retried, whatever the retry budget.
	var hits atomic.Int32
	down := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		answer(503, "upstream_error", "down")(w, r)
	})
	data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(down.URL), inferencekey.WithProject("acme"),
		inferencekey.WithAPIKey("ik_live_1a2b3c4d_"+strings.Repeat("0", 64)), inferencekey.WithMaxRetries(3))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	epDown, err := data.Endpoint("bot")
	if err != nil {
		t.Fatal(err)
	}
	defer epDown.Close()
	_, err = epDown.SubmitJob(context.Background(), inferencekey.JobRequest{Kind: inferencekey.JobKindEmbeddings, Body: map[string]any{"input": "x"}})
	wantKind(t, err, inferencekey.KindServer, inferencekey.ErrAPI)
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d attempts of one submission", n)
	}

	// ctx ends a submit that hangs.
	// (The body is read first: net/http notices a closed connection only once it has been.)
	hang := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = fakeEndpoint(t, hang.URL).SubmitJob(ctx, inferencekey.JobRequest{Kind: inferencekey.JobKindChat, Body: map[string]any{"messages": []any{}}})
	wantKind(t, err, inferencekey.KindCancelled, inferencekey.ErrCancelled)
}
