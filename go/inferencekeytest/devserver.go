// Package inferencekeytest runs the InferenceKey local platform in-process, for tests: a real
// control and data plane on a loopback port, with real CPU models run by the Python named by
// INFERENCEKEY_DEV_PYTHON (see the repository's README).
package inferencekeytest

import (
	"encoding/json"
	"fmt"

	// The per-platform library, embedded.
	_ "github.com/inferencekey/inferencekey-sdk/go/internal/dist"
	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// Config configures a Server; the zero value picks a free port and a temporary data folder.
type Config struct {
	Port               int    `json:"port"`
	DataDir            string `json:"data_dir,omitempty"`
	Python             string `json:"python,omitempty"`
	RateLimitPerMinute int    `json:"rate_limit_per_minute,omitempty"`
}

// Server is a running local platform.
type Server struct {
	id      uintptr
	BaseURL string // the platform's URL
	DataDir string
}

// Credentials are a project and its fresh tokens (shown once).
type Credentials struct {
	Project  string `json:"-"`
	SDKToken string `json:"sdk_token"`
	APIKey   string `json:"api_key"`
}

// Start starts the platform and returns once it listens.
func Start(cfg Config) (*Server, error) {
	if err := native.Load(); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(cfg)
	id, info, e := native.DevStart(body)
	if e != nil {
		return nil, toError(e)
	}
	var i struct {
		BaseURL string `json:"base_url"`
		DataDir string `json:"data_dir"`
	}
	if err := json.Unmarshal(info, &i); err != nil {
		native.Free(native.DevServer, id)
		return nil, err
	}
	return &Server{id: id, BaseURL: i.BaseURL, DataDir: i.DataDir}, nil
}

// CreateProject creates a project with an ik_sdk_ token and a project-wide ik_live_ key.
func (s *Server) CreateProject(slug string) (Credentials, error) {
	body, _ := json.Marshal(map[string]string{"slug": slug, "name": slug})
	out, e := native.DevQuery(s.id, false, body)
	if e != nil {
		return Credentials{}, toError(e)
	}
	c := Credentials{Project: slug}
	return c, json.Unmarshal(out, &c)
}

// MintToken mints a token: kind "live" with grants ("project/workload"), or kind "sdk" with
// scopes ("workload:read").
func (s *Server) MintToken(project, kind string, grantsOrScopes ...string) (string, error) {
	req := map[string]any{"project": project, "kind": kind}
	if kind == "live" {
		req["grants"] = grantsOrScopes
	} else {
		req["scopes"] = grantsOrScopes
	}
	body, _ := json.Marshal(req)
	out, e := native.DevQuery(s.id, true, body)
	if e != nil {
		return "", toError(e)
	}
	var t struct {
		Token string `json:"token"`
	}
	return t.Token, json.Unmarshal(out, &t)
}

// Close stops the platform and every workload process it runs, and frees it.
func (s *Server) Close() error {
	native.DevStop(s.id)
	native.Free(native.DevServer, s.id)
	return nil
}

// toError reports a failed start with the core's (redacted) message.
func toError(e *native.ErrorInfo) error {
	return fmt.Errorf("inferencekeytest: %s (%s)", e.Message, e.Code)
}
