package inferencekey

import (
	"context"
	"encoding/json"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// ManagementClient talks to the control plane of one project with an ik_sdk_ token. It is
// safe for concurrent use; Close it when done.
type ManagementClient struct {
	h *handle
}

// NewManagementClient creates a client from options alone: WithSDKToken and WithProject are
// required. The token's form is checked here, before any request.
func NewManagementClient(opts ...Option) (*ManagementClient, error) {
	return newManagement(false, opts)
}

// NewManagementClientFromEnv creates a client whose unset options come from the environment
// (INFERENCEKEY_SDK_TOKEN, INFERENCEKEY_PROJECT, INFERENCEKEY_BASE_URL, ...), resolved by the
// core as in every binding.
func NewManagementClientFromEnv(opts ...Option) (*ManagementClient, error) {
	return newManagement(true, opts)
}

func newManagement(fromEnv bool, opts []Option) (*ManagementClient, error) {
	h, err := newHandle(native.Management, buildConfig(fromEnv, opts))
	if err != nil {
		return nil, err
	}
	c := &ManagementClient{h: h}
	track(c, h)
	return c, nil
}

// newHandle creates a client handle from its config.
func newHandle(kind native.HandleKind, cfg clientConfig) (*handle, error) {
	if err := native.Load(); err != nil {
		return nil, loadError(err)
	}
	logFromEnv()
	body, err := encode(cfg)
	if err != nil {
		return nil, err
	}
	id, info := native.New(kind, body)
	if info != nil {
		return nil, errorFromNative(info)
	}
	return &handle{kind: kind, id: id}, nil
}

// Close releases the client; calls in flight finish. Closing twice is harmless; a call after
// Close fails with kind invalid_handle.
func (c *ManagementClient) Close() error {
	c.h.close()
	return nil
}

// String describes the client (URL, project, redacted token).
func (c *ManagementClient) String() string { return describe(native.Management, c.h.id) }

func describe(kind native.HandleKind, id uintptr) string {
	b, info := native.Describe(kind, id)
	if info != nil {
		return "inferencekey: closed client"
	}
	return string(b)
}

type ensureRequest struct {
	Spec    WorkloadSpec `json:"spec"`
	OnDrift OnDrift      `json:"on_drift,omitempty"`
	Project *string      `json:"project,omitempty"`
}

// Ensure makes the workload match spec: it creates it, leaves it, or handles drift as
// WithOnDrift says (default OnDriftReconcile). Under OnDriftWarn a drifted workload gives
// Action ActionDriftWarned with the changes; under OnDriftFail an *Error of kind drift.
func (c *ManagementClient) Ensure(ctx context.Context, spec WorkloadSpec, opts ...CallOption) (EnsureResult, error) {
	cfg := buildCall(opts)
	var out EnsureResult
	err := run(ctx, native.OpEnsure, c.h.id, ensureRequest{Spec: spec, OnDrift: cfg.onDrift, Project: cfg.project}, decodeJSON(&out))
	return out, err
}

// Plan reports what Ensure would do, writing nothing.
func (c *ManagementClient) Plan(ctx context.Context, spec WorkloadSpec, opts ...CallOption) (EnsureResult, error) {
	cfg := buildCall(opts)
	var out EnsureResult
	err := run(ctx, native.OpPlan, c.h.id, ensureRequest{Spec: spec, Project: cfg.project}, decodeJSON(&out))
	return out, err
}

type slugRequest struct {
	Slug    string   `json:"workload_slug,omitempty"`
	Project *string  `json:"project,omitempty"`
	Timeout *float64 `json:"timeout_s,omitempty"`
}

// Get returns one workload; a missing one is an *Error of kind not_found.
func (c *ManagementClient) Get(ctx context.Context, slug string, opts ...CallOption) (Workload, error) {
	cfg := buildCall(opts)
	var out Workload
	err := run(ctx, native.OpGet, c.h.id, slugRequest{Slug: slug, Project: cfg.project}, decodeJSON(&out))
	return out, err
}

// List returns the project's workloads.
func (c *ManagementClient) List(ctx context.Context, opts ...CallOption) ([]Workload, error) {
	cfg := buildCall(opts)
	var out []Workload
	err := run(ctx, native.OpList, c.h.id, slugRequest{Project: cfg.project}, decodeJSON(&out))
	return out, err
}

// Delete deletes a workload; false when it was absent (or another caller deleted it first).
func (c *ManagementClient) Delete(ctx context.Context, slug string, opts ...CallOption) (bool, error) {
	cfg := buildCall(opts)
	var out struct {
		Deleted bool `json:"deleted"`
	}
	err := run(ctx, native.OpDelete, c.h.id, slugRequest{Slug: slug, Project: cfg.project}, decodeJSON(&out))
	return out.Deleted, err
}

// WaitUntilReady waits until the workload serves. A workload that fails is an *Error of kind
// workload_failed (with LastEvent and LogTail); the deadline (WithReadinessTimeout, default 10
// minutes) passing is one of kind readiness_timeout. WithProgress sees every event, the ready
// one included.
func (c *ManagementClient) WaitUntilReady(ctx context.Context, slug string, opts ...CallOption) error {
	cfg := buildCall(opts)
	req := slugRequest{Slug: slug, Project: cfg.project}
	if cfg.deadline != 0 {
		s := cfg.deadline.Seconds()
		req.Timeout = &s
	}
	body, err := encode(req)
	if err != nil {
		return err
	}
	cancel := tokenFor(ctx)
	defer cancel.Free()
	call, info := native.StartWait(c.h.id, body, cancel)
	if info != nil {
		return errorFromNative(info)
	}
	var onEvent func([]byte)
	if cfg.progress != nil {
		onEvent = func(b []byte) {
			var ev ReadinessEvent
			if json.Unmarshal(b, &ev) == nil {
				cfg.progress(ev)
			}
		}
	}
	return finish(ctx, call, cancel, onEvent, nil)
}

// WithOptions returns a client sharing this one's credentials and connections with other
// timeouts, retries or headers (WithTimeout, WithConnectTimeout, WithMaxRetries, WithHeader).
// Close it as well.
func (c *ManagementClient) WithOptions(opts ...Option) (*ManagementClient, error) {
	body, err := derivedOptions(opts)
	if err != nil {
		return nil, err
	}
	id, info := native.Derive(native.Management, c.h.id, body)
	if info != nil {
		return nil, errorFromNative(info)
	}
	h := &handle{kind: native.Management, id: id}
	d := &ManagementClient{h: h}
	track(d, h)
	return d, nil
}
