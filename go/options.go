package inferencekey

import (
	"encoding/json"
	"math"
	"time"
)

// Version is this module's version, sent to the server as the binding's version.
const Version = "1.0.0"

// Option configures a client (and, for WithAPIKey, an endpoint). Values are checked by the
// core when the client is created: a bad one is an *Error of kind config naming the option.
type Option func(*clientConfig)

// clientConfig is the config JSON of c-abi §4; a nil field is left to the core's default (or,
// in a FromEnv constructor, to the INFERENCEKEY_* environment).
type clientConfig struct {
	FromEnv        bool              `json:"from_env"`
	Binding        string            `json:"binding"`
	BindingVersion string            `json:"binding_version"`
	BaseURL        *string           `json:"base_url,omitempty"`
	Project        *string           `json:"project,omitempty"`
	SDKToken       *string           `json:"sdk_token,omitempty"`
	APIKey         *string           `json:"api_key,omitempty"`
	Timeout        any               `json:"timeout_s,omitempty"`
	ConnectTimeout any               `json:"connect_timeout_s,omitempty"`
	MaxRetries     *int              `json:"max_retries,omitempty"`
	CABundlePath   *string           `json:"ca_bundle_path,omitempty"`
	DefaultHeaders map[string]string `json:"default_headers,omitempty"`
}

// WithProject sets the project (slug) the client works in.
func WithProject(slug string) Option { return func(c *clientConfig) { c.Project = &slug } }

// WithBaseURL sets the platform's URL (default https://api.inferencekey.com).
func WithBaseURL(url string) Option { return func(c *clientConfig) { c.BaseURL = &url } }

// WithSDKToken sets a management client's ik_sdk_ token.
func WithSDKToken(token string) Option { return func(c *clientConfig) { c.SDKToken = &token } }

// WithAPIKey sets the ik_live_ key: a data client's default for its endpoints, or one
// endpoint's own.
func WithAPIKey(key string) Option { return func(c *clientConfig) { c.APIKey = &key } }

// WithTimeout sets how long one attempt of a request may take (default 60 s). Whole calls are
// bounded by their context.
func WithTimeout(d time.Duration) Option {
	return func(c *clientConfig) { c.Timeout = seconds(d) }
}

// WithConnectTimeout sets how long connecting may take (default 5 s).
func WithConnectTimeout(d time.Duration) Option {
	return func(c *clientConfig) { c.ConnectTimeout = seconds(d) }
}

// WithMaxRetries sets how often a failed attempt is retried, 0 to 10 (default 2).
func WithMaxRetries(n int) Option { return func(c *clientConfig) { c.MaxRetries = &n } }

// WithCABundle makes the client trust only the CA certificates of a PEM file.
func WithCABundle(path string) Option { return func(c *clientConfig) { c.CABundlePath = &path } }

// WithHeader adds a header to every request of the client.
func WithHeader(name, value string) Option {
	return func(c *clientConfig) {
		if c.DefaultHeaders == nil {
			c.DefaultHeaders = map[string]string{}
		}
		c.DefaultHeaders[name] = value
	}
}

// seconds is a duration as the core reads it. A non-positive one is sent as is, for the core
// to refuse by name.
func seconds(d time.Duration) any {
	s := d.Seconds()
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return "Infinity"
	}
	return s
}

func buildConfig(fromEnv bool, opts []Option) clientConfig {
	c := clientConfig{FromEnv: fromEnv, Binding: "go", BindingVersion: Version}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// CallOption adjusts one call: Ensure and Plan (WithOnDrift, InProject), WaitUntilReady
// (WithProgress, WithReadinessTimeout, InProject), Get, List and Delete (InProject). An
// option a call does not take is ignored.
type CallOption func(*callConfig)

type callConfig struct {
	onDrift  OnDrift
	project  *string
	progress func(ReadinessEvent)
	deadline time.Duration
}

// WithOnDrift sets what Ensure does on drift (default OnDriftReconcile).
func WithOnDrift(d OnDrift) CallOption { return func(c *callConfig) { c.onDrift = d } }

// InProject runs the call in another project than the client's.
func InProject(slug string) CallOption { return func(c *callConfig) { c.project = &slug } }

// WithProgress has WaitUntilReady call fn with every readiness event, the last included, on
// the waiting goroutine.
func WithProgress(fn func(ReadinessEvent)) CallOption {
	return func(c *callConfig) { c.progress = fn }
}

// WithReadinessTimeout bounds WaitUntilReady (default 10 minutes); a context deadline bounds
// it too.
func WithReadinessTimeout(d time.Duration) CallOption {
	return func(c *callConfig) { c.deadline = d }
}

func buildCall(opts []CallOption) callConfig {
	var c callConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// encode is the request JSON of a call; a value JSON cannot hold (NaN, a channel) is a
// validation error.
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, localError(KindValidation, CodeInvalidArgument, "the request cannot be encoded as JSON: %v", err)
	}
	return b, nil
}

// callOptions is the with_options JSON (CallOptions in the ABI's schema).
type callOptions struct {
	Timeout        any               `json:"timeout_s,omitempty"`
	ConnectTimeout any               `json:"connect_timeout_s,omitempty"`
	MaxRetries     *int              `json:"max_retries,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
}

// derivedOptions keeps the options a derived client may change (WithTimeout,
// WithConnectTimeout, WithMaxRetries, WithHeader) and refuses the others, which name the
// client's identity.
func derivedOptions(opts []Option) ([]byte, error) {
	c := buildConfig(false, opts)
	for name, set := range map[string]bool{"WithProject": c.Project != nil, "WithBaseURL": c.BaseURL != nil,
		"WithSDKToken": c.SDKToken != nil, "WithAPIKey": c.APIKey != nil, "WithCABundle": c.CABundlePath != nil} {
		if set {
			return nil, localError(KindConfig, CodeInvalidOption, "%s cannot change on a derived client; create a new one", name)
		}
	}
	return encode(callOptions{Timeout: c.Timeout, ConnectTimeout: c.ConnectTimeout, MaxRetries: c.MaxRetries, Headers: c.DefaultHeaders})
}
