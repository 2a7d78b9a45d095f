package inferencekey_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

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
