package inferencekey

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// DefaultWebhookTolerance is how far the signed timestamp may be from now, either way, by
// default.
const DefaultWebhookTolerance = 300 * time.Second

// WebhookEvent is a verified delivery. Event is "job.completed", "job.failed" or "ping";
// Raw holds the whole body, with the keys a newer platform adds.
type WebhookEvent struct {
	Event string `json:"event"`
	TS    int64  `json:"ts"` // when the delivery was made, unix seconds
	JobID string `json:"job_id"`
	// Context is the Context given to SubmitJob, echoed back exactly; nil when none.
	Context json.RawMessage `json:"context"`
	Data    *JobData        `json:"data"` // nil for a ping
	Raw     json.RawMessage `json:"-"`
}

// JobData is what a job produced.
type JobData struct {
	JobID  string `json:"job_id"`
	Status string `json:"status"` // "completed" or "failed"
	// Output is the route's JSON response, shaped as the synchronous call's.
	Output      json.RawMessage `json:"output"`
	Usage       *Usage          `json:"usage"`
	Error       *JobError       `json:"error"`        // why it failed, for "failed"
	BinaryB64   string          `json:"binary_b64"`   // a binary result (audio, images), base64
	ContentType string          `json:"content_type"` // the media type of BinaryB64
}

// JobError is why a job failed, as the upstream's error object said it.
type JobError struct {
	Message string
	Type    string
	Code    string // a numeric code is given in decimal
}

// UnmarshalJSON takes the fields that are strings (or a numeric code) and ignores the rest:
// a failed job's error comes from the serving backend, whose shapes vary, and a delivery that
// verified must not fail to decode over it.
func (e *JobError) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil // not an object: nothing to read (the event's Raw keeps it)
	}
	text := func(key string) string {
		var s string
		if json.Unmarshal(m[key], &s) == nil {
			return s
		}
		var n json.Number
		if json.Unmarshal(m[key], &n) == nil {
			return n.String()
		}
		return ""
	}
	e.Message, e.Type, e.Code = text("message"), text("type"), text("code")
	return nil
}

// VerifyOption adjusts VerifyWebhook.
type VerifyOption func(*verifyRequest)

// WithTolerance sets the largest distance between the signed timestamp and now, either way
// (default DefaultWebhookTolerance).
func WithTolerance(d time.Duration) VerifyOption {
	return func(r *verifyRequest) { s := d.Seconds(); r.Tolerance = &s }
}

type verifyRequest struct {
	Headers   [][2]string `json:"headers"`
	Secret    string      `json:"secret"`
	Tolerance *float64    `json:"tolerance_s,omitempty"`
}

// VerifyWebhook verifies one webhook delivery and returns its event. payload is the raw
// request body exactly as received (read r.Body before any JSON decoding: re-encoded JSON has
// other bytes and fails); header is the request's (names are matched case-insensitively; of
// several v1 signatures any match is accepted); secret is the destination's signing secret.
//
// A delivery that does not verify is an *Error of kind webhook_signature
// (errors.Is(err, ErrWebhookSignature)) whose Code says why: CodeWebhookHeaderMalformed,
// CodeWebhookSignatureMismatch, CodeWebhookTimestampOutOfTolerance, CodeWebhookPayloadInvalid.
// The check (constant-time comparison included) is the core's; this makes no network call.
func VerifyWebhook(payload []byte, header http.Header, secret string, opts ...VerifyOption) (WebhookEvent, error) {
	if err := native.Load(); err != nil {
		return WebhookEvent{}, loadError(err)
	}
	req := verifyRequest{Headers: [][2]string{}, Secret: secret}
	for name, values := range header {
		for _, v := range values {
			req.Headers = append(req.Headers, [2]string{name, v})
		}
	}
	for _, o := range opts {
		o(&req)
	}
	body, err := encode(req)
	if err != nil {
		return WebhookEvent{}, err
	}
	out, info := native.VerifyWebhook(payload, body)
	if info != nil {
		return WebhookEvent{}, errorFromNative(info)
	}
	var ev WebhookEvent
	if err := json.Unmarshal(out, &ev); err != nil {
		return WebhookEvent{}, localError(KindAPI, CodeInvalidResponse, "the library returned JSON this module cannot read: %v", err)
	}
	ev.Raw = out
	if string(ev.Context) == "null" {
		ev.Context = nil
	}
	return ev, nil
}
