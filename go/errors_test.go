package inferencekey_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// fakeServer serves handler; for the faults a real platform cannot be made to produce.
func fakeServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// answer replies with status and a JSON error body of the wire format.
func answer(status int, code, message string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_test_1")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, message)
	}
}

func fakeMgmt(t *testing.T, url string, opts ...inferencekey.Option) *inferencekey.ManagementClient {
	t.Helper()
	opts = append([]inferencekey.Option{inferencekey.WithBaseURL(url), inferencekey.WithProject("acme"),
		inferencekey.WithSDKToken(fakeToken), inferencekey.WithMaxRetries(0)}, opts...)
	mgmt, err := inferencekey.NewManagementClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgmt.Close() })
	return mgmt
}

// wantKind checks err is an *Error of kind (exactly) and matches its sentinel.
func wantKind(t *testing.T, err error, kind inferencekey.Kind, sentinel error) *inferencekey.Error {
	t.Helper()
	var e *inferencekey.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *Error of kind %s, got %T %v", kind, err, err)
	}
	if e.Kind != kind {
		t.Fatalf("kind %s, want %s: %+v", e.Kind, kind, e)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%v, %v) is false", err, sentinel)
	}
	return e
}

// Each HTTP status the wire protocol names, from a fake server, as its kind.
func TestErrorKindsFromStatus(t *testing.T) {
	cases := []struct {
		status   int
		code     string
		kind     inferencekey.Kind
		sentinel error
	}{
		{401, "unauthorized", inferencekey.KindAuth, inferencekey.ErrAuth},
		{403, "scope_insufficient", inferencekey.KindPermission, inferencekey.ErrPermission},
		{404, "not_found", inferencekey.KindNotFound, inferencekey.ErrNotFound},
		{409, "slug_conflict", inferencekey.KindConflict, inferencekey.ErrConflict},
		{422, "invalid_field", inferencekey.KindValidation, inferencekey.ErrValidation},
		{429, "rate_limited", inferencekey.KindRateLimited, inferencekey.ErrRateLimited},
		{418, "teapot", inferencekey.KindAPI, inferencekey.ErrAPI},
		{500, "internal_error", inferencekey.KindServer, inferencekey.ErrServer},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			srv := fakeServer(t, answer(c.status, c.code, "refused", "Retry-After", "3"))
			_, err := fakeMgmt(t, srv.URL).Get(context.Background(), "bot")
			e := wantKind(t, err, c.kind, c.sentinel)
			if e.StatusCode != c.status || e.Code != c.code || e.RequestID != "req_test_1" {
				t.Fatalf("status %d code %q request id %q", e.StatusCode, e.Code, e.RequestID)
			}
			if c.status == 429 && e.RetryAfter != 3*time.Second {
				t.Fatalf("RetryAfter %v", e.RetryAfter)
			}
		})
	}
	// A server error is an API error too (its status is in IK_ERR_API's block).
	srv := fakeServer(t, answer(503, "upstream_error", "down"))
	_, err := fakeMgmt(t, srv.URL).List(context.Background())
	wantKind(t, err, inferencekey.KindServer, inferencekey.ErrAPI)
}

func TestErrorKindsLocal(t *testing.T) {
	t.Setenv("INFERENCEKEY_SDK_TOKEN", "")
	t.Run("config: no token", func(t *testing.T) {
		_, err := inferencekey.NewManagementClient(inferencekey.WithProject("acme"))
		e := wantKind(t, err, inferencekey.KindConfig, inferencekey.ErrConfig)
		if e.Code != inferencekey.CodeMissingToken {
			t.Fatalf("code %q", e.Code)
		}
	})
	t.Run("config: bad option", func(t *testing.T) {
		_, err := inferencekey.NewManagementClient(inferencekey.WithProject("acme"),
			inferencekey.WithSDKToken(fakeToken), inferencekey.WithMaxRetries(11))
		wantKind(t, err, inferencekey.KindConfig, inferencekey.ErrConfig)
	})
	t.Run("auth: not a token", func(t *testing.T) {
		_, err := inferencekey.NewManagementClient(inferencekey.WithProject("acme"), inferencekey.WithSDKToken("hunter2"))
		wantKind(t, err, inferencekey.KindAuth, inferencekey.ErrAuth)
	})
	t.Run("permission: a token of the other plane", func(t *testing.T) {
		_, err := inferencekey.NewManagementClient(inferencekey.WithProject("acme"),
			inferencekey.WithSDKToken("ik_live_1a2b3c4d_"+strings.Repeat("0", 64)))
		wantKind(t, err, inferencekey.KindPermission, inferencekey.ErrPermission)
	})
	t.Run("validation: empty name, no request", func(t *testing.T) {
		srv := fakeServer(t, func(http.ResponseWriter, *http.Request) { t.Error("a request was sent") })
		_, err := fakeMgmt(t, srv.URL).Ensure(context.Background(), inferencekey.WorkloadSpec{Slug: "a", Model: "m", Backend: "vllm"})
		wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation)
	})
	t.Run("validation: bad requests, no request sent", func(t *testing.T) {
		srv := fakeServer(t, func(http.ResponseWriter, *http.Request) { t.Error("a request was sent") })
		ep := fakeEndpoint(t, srv.URL)
		_, err := ep.GenerateText(context.Background(), inferencekey.TextRequest{})
		wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation)
		_, err = ep.Rerank(context.Background(), inferencekey.RerankRequest{Query: "q"})
		wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation)
		_, err = ep.Embed(context.Background(), inferencekey.EmbedRequest{})
		wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation)
		data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(srv.URL), inferencekey.WithProject("acme"))
		if err != nil {
			t.Fatal(err)
		}
		defer data.Close()
		_, err = data.Endpoint("Bad Slug!", inferencekey.WithAPIKey("ik_live_1a2b3c4d_"+strings.Repeat("0", 64)))
		e := wantKind(t, err, inferencekey.KindValidation, inferencekey.ErrValidation)
		if e.Code != inferencekey.CodeInvalidSlug || e.Field != "workload_slug" {
			t.Fatalf("code %q field %q", e.Code, e.Field)
		}
		_, err = data.Endpoint("bot") // no key: neither the endpoint's nor a default
		wantKind(t, err, inferencekey.KindConfig, inferencekey.ErrConfig)
	})
	t.Run("connection: nothing listens", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String()
		_ = l.Close()
		_, err = fakeMgmt(t, url).List(context.Background())
		wantKind(t, err, inferencekey.KindConnection, inferencekey.ErrConnection)
	})
	t.Run("timeout: a slow server", func(t *testing.T) {
		srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		_, err := fakeMgmt(t, srv.URL, inferencekey.WithTimeout(200*time.Millisecond)).List(context.Background())
		wantKind(t, err, inferencekey.KindTimeout, inferencekey.ErrTimeout)
	})
	t.Run("webhook_signature: a delivery that does not verify (webhooks_test.go has the cases)", func(t *testing.T) {
		header := http.Header{"X-Inferencekey-Signature": {fmt.Sprintf("t=%d,v1=%s", time.Now().Unix(), strings.Repeat("0", 64))}}
		_, err := inferencekey.VerifyWebhook([]byte(`{"event":"ping","ts":1}`), header, "whsec_x")
		e := wantKind(t, err, inferencekey.KindWebhookSignature, inferencekey.ErrWebhookSignature)
		if e.Code != inferencekey.CodeWebhookSignatureMismatch {
			t.Fatalf("code %q", e.Code)
		}
	})
	t.Run("invalid_handle: use after close", func(t *testing.T) {
		srv := fakeServer(t, answer(200, "", ""))
		mgmt := fakeMgmt(t, srv.URL)
		_ = mgmt.Close()
		_ = mgmt.Close() // double close is harmless
		_, err := mgmt.List(context.Background())
		wantKind(t, err, inferencekey.KindInvalidHandle, inferencekey.ErrInvalidHandle)
	})
}

// readinessServer streams the given SSE frames on the readiness route, then holds the
// connection open when hold is set.
func readinessServer(t *testing.T, frames []string, hold bool) *httptest.Server {
	return fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/readiness-events") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, f := range frames {
			_, _ = fmt.Fprintf(w, "data: %s\n\n", f)
		}
		w.(http.Flusher).Flush()
		if hold {
			<-r.Context().Done()
		}
	})
}

func TestErrorKindsReadiness(t *testing.T) {
	t.Run("workload_failed", func(t *testing.T) {
		srv := readinessServer(t, []string{
			`{"phase":"bootstrapping","message":"loading","elapsed_ms":5}`,
			`{"phase":"error","message":"process exited with status 1","elapsed_ms":9,"log_tail":"bad flag\n"}`,
		}, false)
		var seen []string
		err := fakeMgmt(t, srv.URL).WaitUntilReady(context.Background(), "bot",
			inferencekey.WithProgress(func(e inferencekey.ReadinessEvent) { seen = append(seen, e.Phase) }))
		e := wantKind(t, err, inferencekey.KindWorkloadFailed, inferencekey.ErrWorkloadFailed)
		if e.LastEvent == nil || e.LastEvent.Phase != "error" || !strings.Contains(e.LogTail+e.LastEvent.LogTail, "bad flag") {
			t.Fatalf("details: %+v", e)
		}
		if strings.Join(seen, ",") != "bootstrapping,error" {
			t.Fatalf("progress saw %v", seen)
		}
	})
	t.Run("readiness_timeout", func(t *testing.T) {
		srv := readinessServer(t, []string{`{"phase":"bootstrapping","message":"loading"}`}, true)
		err := fakeMgmt(t, srv.URL).WaitUntilReady(context.Background(), "bot",
			inferencekey.WithReadinessTimeout(300*time.Millisecond))
		e := wantKind(t, err, inferencekey.KindReadinessTimeout, inferencekey.ErrTimeout)
		if e.LastEvent == nil || e.LastEvent.Phase != "bootstrapping" {
			t.Fatalf("last event: %+v", e.LastEvent)
		}
	})
}

// Every status of the ABI maps to its kind, and each kind's sentinel matches it: the table is
// generated, so this checks the generator's output hangs together.
func TestEveryKindHasASentinel(t *testing.T) {
	kinds := sentinelOf
	if len(kinds) != 24 {
		t.Fatalf("%d kinds listed here", len(kinds))
	}
	for kind, sentinel := range kinds {
		err := error(&inferencekey.Error{Kind: kind})
		if !errors.Is(err, sentinel) {
			t.Errorf("%s does not match its sentinel", kind)
		}
		for other, s := range kinds {
			nested := (kind == inferencekey.KindDrift && other == inferencekey.KindValidation) ||
				((kind == inferencekey.KindServer || kind == inferencekey.KindWorkloadFailed) && other == inferencekey.KindAPI) ||
				(kind == inferencekey.KindReadinessTimeout && other == inferencekey.KindTimeout)
			if other != kind && errors.Is(err, s) != nested {
				t.Errorf("errors.Is(%s, Err(%s)) = %v", kind, other, !nested)
			}
		}
	}
}

// sentinelOf is every kind with its sentinel.
var sentinelOf = map[inferencekey.Kind]error{
	inferencekey.KindInvalidArgument: inferencekey.ErrInvalidArgument, inferencekey.KindNullArg: inferencekey.ErrNullArg,
	inferencekey.KindInvalidUTF8: inferencekey.ErrInvalidUTF8, inferencekey.KindInvalidJSON: inferencekey.ErrInvalidJSON,
	inferencekey.KindInvalidState: inferencekey.ErrInvalidState, inferencekey.KindInvalidHandle: inferencekey.ErrInvalidHandle,
	inferencekey.KindConfig: inferencekey.ErrConfig, inferencekey.KindAuth: inferencekey.ErrAuth,
	inferencekey.KindPermission: inferencekey.ErrPermission, inferencekey.KindValidation: inferencekey.ErrValidation,
	inferencekey.KindDrift: inferencekey.ErrDrift, inferencekey.KindNotFound: inferencekey.ErrNotFound,
	inferencekey.KindConflict: inferencekey.ErrConflict, inferencekey.KindRateLimited: inferencekey.ErrRateLimited,
	inferencekey.KindAPI: inferencekey.ErrAPI, inferencekey.KindServer: inferencekey.ErrServer,
	inferencekey.KindWorkloadFailed: inferencekey.ErrWorkloadFailed, inferencekey.KindConnection: inferencekey.ErrConnection,
	inferencekey.KindTimeout: inferencekey.ErrTimeout, inferencekey.KindReadinessTimeout: inferencekey.ErrReadinessTimeout,
	inferencekey.KindCancelled: inferencekey.ErrCancelled, inferencekey.KindPanic: inferencekey.ErrPanic,
	inferencekey.KindUnknown: inferencekey.ErrUnknown, inferencekey.KindWebhookSignature: inferencekey.ErrWebhookSignature,
}
