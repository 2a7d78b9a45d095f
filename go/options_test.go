package inferencekey_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// Client options and call options reach the wire: a default header on every request, and
// InProject on the path of Get, List and Delete.
func TestOptionsReachTheWire(t *testing.T) {
	var mu sync.Mutex
	var paths, headers []string
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths, headers = append(paths, r.Method+" "+r.URL.Path), append(headers, r.Header.Get("X-Team"))
		mu.Unlock()
		answer(404, "not_found", "no such workload")(w, r)
	})
	mgmt := fakeMgmt(t, srv.URL, inferencekey.WithHeader("X-Team", "search"))
	ctx := context.Background()
	_, _ = mgmt.Get(ctx, "bot", inferencekey.InProject("other"))
	_, _ = mgmt.List(ctx, inferencekey.InProject("other"))
	_, _ = mgmt.Delete(ctx, "bot", inferencekey.InProject("other"))
	mu.Lock()
	defer mu.Unlock()
	for i, p := range paths {
		if headers[i] != "search" {
			t.Errorf("request %q without the default header", p)
		}
	}
	want := "GET /api/projects/other/workloads"
	if len(paths) < 2 || paths[0][:len(want)] != want || paths[1] != want {
		t.Fatalf("paths %q", paths)
	}
}

// WithOptions derives a client with other headers and timeouts; identity options are refused.
func TestWithOptions(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Trace"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	})
	mgmt := fakeMgmt(t, srv.URL)
	traced, err := mgmt.WithOptions(inferencekey.WithHeader("X-Trace", "on"), inferencekey.WithMaxRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer traced.Close()
	if _, err := traced.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := mgmt.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(got) != 2 || got[0] != "on" || got[1] != "" {
		t.Fatalf("X-Trace seen: %q", got)
	}
	mu.Unlock()
	_, err = mgmt.WithOptions(inferencekey.WithProject("other"))
	wantKind(t, err, inferencekey.KindConfig, inferencekey.ErrConfig)
	_, err = mgmt.WithOptions(inferencekey.WithMaxRetries(99))
	wantKind(t, err, inferencekey.KindConfig, inferencekey.ErrConfig)

	data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(srv.URL), inferencekey.WithProject("acme"),
		inferencekey.WithAPIKey("ik_live_1a2b3c4d_"+strings.Repeat("0", 64)))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	slow, err := data.WithOptions(inferencekey.WithTimeout(5 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Endpoint("bot"); err != nil {
		t.Fatalf("endpoint of a derived data client: %v", err)
	}
}
