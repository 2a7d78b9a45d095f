package inferencekey_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sync"
	"testing"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// fakeToken is a well-formed ik_sdk_ token that no real server knows.
const fakeToken = "ik_sdk_1a2b3c4d_0000000000000000000000000000000000000000000000000000000000000000"

type exchange struct {
	Request struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	} `json:"request"`
	Response struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"response"`
}

type conformanceCase struct {
	Name      string               `json:"name"`
	About     string               `json:"about"`
	Project   string               `json:"project"`
	Spec      json.RawMessage      `json:"spec"`
	OnDrift   inferencekey.OnDrift `json:"on_drift"`
	Exchanges []exchange           `json:"exchanges"`
	Expect    struct {
		Action           *inferencekey.EnsureAction `json:"action"`
		PlannedOperation *string                    `json:"planned_operation"`
		WorkloadSlug     *string                    `json:"workload_slug"`
		Changes          json.RawMessage            `json:"changes"`
		Error            *struct {
			Class string  `json:"class"`
			Code  *string `json:"code"`
		} `json:"error"`
		Warning bool `json:"warning"`
	} `json:"expect"`
}

// The Python error classes of the vectors, as this package's kinds.
var classKinds = map[string]inferencekey.Kind{
	"ConfigurationError": inferencekey.KindConfig,
	"ValidationError":    inferencekey.KindValidation,
	"DriftError":         inferencekey.KindDrift,
	"NotFoundError":      inferencekey.KindNotFound,
	"ConflictError":      inferencekey.KindConflict,
	"AuthError":          inferencekey.KindAuth,
	"PermissionDenied":   inferencekey.KindPermission,
}

func loadCases(t *testing.T) []conformanceCase {
	raw, err := os.ReadFile("../tests/conformance/ensure.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []conformanceCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 40 { // the file must not silently shrink
		t.Fatalf("only %d conformance cases", len(file.Cases))
	}
	return file.Cases
}

// jsonEqual compares two JSON texts as values (key order ignored, numbers by value).
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// replayServer answers the n-th request with the n-th exchange after checking it.
func replayServer(t *testing.T, exchanges []exchange) (*httptest.Server, func() int) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := n
		n++
		mu.Unlock()
		if i >= len(exchanges) {
			t.Errorf("request %d (%s %s) beyond the %d exchanges", i+1, r.Method, r.URL.Path, len(exchanges))
			w.WriteHeader(http.StatusTeapot)
			return
		}
		want := exchanges[i].Request
		body, _ := io.ReadAll(r.Body)
		if r.Method != want.Method || r.URL.Path != want.Path {
			t.Errorf("request %d: %s %s, want %s %s", i+1, r.Method, r.URL.Path, want.Method, want.Path)
		}
		if string(want.Body) == "null" || len(want.Body) == 0 {
			if len(bytes.TrimSpace(body)) != 0 {
				t.Errorf("request %d: body %s, want none", i+1, body)
			}
		} else if !jsonEqual(body, want.Body) {
			t.Errorf("request %d: body %s\nwant %s", i+1, body, want.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(exchanges[i].Response.Status)
		_, _ = w.Write(exchanges[i].Response.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// Every case of tests/conformance/ensure.json through Ensure (and the dry-run ones through Plan
// too) against a replaying fake control plane.
func TestConformance(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			replay(t, c, false)
			if c.OnDrift == inferencekey.OnDriftDryRun {
				replay(t, c, true)
			}
		})
	}
}

func replay(t *testing.T, c conformanceCase, plan bool) {
	dec := json.NewDecoder(bytes.NewReader(c.Spec))
	dec.DisallowUnknownFields()
	var spec inferencekey.WorkloadSpec
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("spec: %v", err)
	}
	srv, used := replayServer(t, c.Exchanges)
	mgmt, err := inferencekey.NewManagementClient(inferencekey.WithBaseURL(srv.URL),
		inferencekey.WithProject(c.Project), inferencekey.WithSDKToken(fakeToken))
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()
	var res inferencekey.EnsureResult
	if plan {
		res, err = mgmt.Plan(context.Background(), spec)
	} else {
		res, err = mgmt.Ensure(context.Background(), spec, inferencekey.WithOnDrift(c.OnDrift))
	}
	if got := used(); got != len(c.Exchanges) {
		t.Errorf("%d of %d exchanges used", got, len(c.Exchanges))
	}
	x := c.Expect
	if x.Error != nil {
		var e *inferencekey.Error
		if !errors.As(err, &e) {
			t.Fatalf("want %s, got %v", x.Error.Class, err)
		}
		if want := classKinds[x.Error.Class]; e.Kind != want {
			t.Errorf("kind %s, want %s (%s): %v", e.Kind, want, x.Error.Class, e)
		}
		if x.Error.Code != nil && e.Code != *x.Error.Code {
			t.Errorf("code %q, want %q", e.Code, *x.Error.Code)
		}
		if changes := string(x.Changes); changes != "" && changes != "null" {
			got, _ := json.Marshal(e.Changes)
			if !jsonEqual(got, x.Changes) {
				t.Errorf("error changes %s\nwant %s", got, x.Changes)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %+v", err)
	}
	if res.Action != *x.Action || res.WorkloadSlug != *x.WorkloadSlug {
		t.Errorf("action %s slug %s, want %s %s", res.Action, res.WorkloadSlug, *x.Action, *x.WorkloadSlug)
	}
	if res.Action == inferencekey.ActionPlanned && x.PlannedOperation != nil && res.PlannedOperation != *x.PlannedOperation {
		t.Errorf("planned %q, want %q", res.PlannedOperation, *x.PlannedOperation)
	}
	if changes := string(x.Changes); changes != "" && changes != "null" {
		got, _ := json.Marshal(res.Changes)
		if !jsonEqual(got, x.Changes) {
			t.Errorf("changes %s\nwant %s", got, x.Changes)
		}
	}
	// A drift warning in Go is the result's action (there are no warnings to emit).
	if warned := res.Action == inferencekey.ActionDriftWarned; warned != x.Warning {
		t.Errorf("warned %v, want %v", warned, x.Warning)
	}
}
