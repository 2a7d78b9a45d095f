package inferencekey

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

//go:generate go run ./internal/cmd/generrors ../include/inferencekey.schema.json errors_gen.go

// Kind classifies an *Error: one per status of the C ABI (see the Kind constants, generated
// from the ABI's status table). Compare it directly or test with errors.Is(err, ErrX).
type Kind string

// Error is every failure of this package: a status of the core, or a local check of the
// binding. Its message and fields never hold a secret (the core redacts them), so %v and %+v
// are safe to log.
type Error struct {
	Kind       Kind   // the class of failure
	Code       string // the machine-readable code (one of the Code constants, or http_<status>)
	Message    string // the redacted message, without prefix
	StatusCode int    // the HTTP status of the response behind the error; 0 when none
	RequestID  string // the server's request id, when known
	// RetryAfter is the server's Retry-After on a rate-limited answer; 0 when none was sent.
	RetryAfter time.Duration
	// Changes lists the drifted fields of a drift error (Kind drift, or code immutable_field).
	Changes []FieldChange
	// Field names the offending field of a validation error, when the core knows it.
	Field string
	// LastEvent is the last readiness event of a failed or timed-out wait.
	LastEvent *ReadinessEvent
	// LogTail holds the workload's last log lines when it failed to start (redacted).
	LogTail string
	// Details is the class-specific extras as the core sent them (JSON), or nil.
	Details json.RawMessage

	cause error // ctx.Err() when the context ended the call
}

// Error reports kind, code, HTTP status and message on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("inferencekey: ")
	b.WriteString(string(e.Kind))
	if e.Code != "" && e.Code != string(e.Kind) {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " [HTTP %d]", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Format prints Error() for %v and %s; %+v adds the request id and the details.
func (e *Error) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('+'):
		b := e.Error()
		if e.RequestID != "" {
			b += " request_id=" + e.RequestID
		}
		if len(e.Details) > 0 {
			b += " details=" + string(e.Details)
		}
		if e.cause != nil {
			b += " cause=" + e.cause.Error()
		}
		_, _ = fmt.Fprint(f, b)
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", e.Error())
	default:
		_, _ = fmt.Fprint(f, e.Error())
	}
}

// Is matches the sentinel of the error's kind and of every kind whose block holds it.
func (e *Error) Is(target error) bool {
	k, ok := target.(*kindError)
	if !ok {
		return false
	}
	for kind := e.Kind; kind != ""; kind = kindParents[kind] {
		if kind == k.kind {
			return true
		}
	}
	return false
}

// Unwrap returns context.Canceled or context.DeadlineExceeded when the call's context ended
// it, so errors.Is(err, context.DeadlineExceeded) holds.
func (e *Error) Unwrap() error { return e.cause }

// kindError is the type of the ErrX sentinels.
type kindError struct{ kind Kind }

func (k *kindError) Error() string { return "inferencekey: " + string(k.kind) }

// errorFromNative builds the *Error of a failed native call.
func errorFromNative(info *native.ErrorInfo) *Error {
	kind, ok := statusKinds[info.Status]
	if !ok {
		kind = KindUnknown
	}
	e := &Error{
		Kind:       kind,
		Code:       info.Code,
		Message:    info.Message,
		StatusCode: info.HTTPStatus,
		RequestID:  redactText(info.RequestID),
	}
	if info.Details != "" {
		e.Details = json.RawMessage(redactText(info.Details))
		var d struct {
			RetryAfter *float64        `json:"retry_after"`
			Changes    []FieldChange   `json:"changes"`
			Field      string          `json:"field"`
			LastEvent  *ReadinessEvent `json:"last_event"`
			LogTail    string          `json:"log_tail"`
		}
		if json.Unmarshal(e.Details, &d) == nil {
			if d.RetryAfter != nil {
				e.RetryAfter = time.Duration(*d.RetryAfter * float64(time.Second))
			}
			e.Changes, e.Field, e.LastEvent, e.LogTail = d.Changes, d.Field, d.LastEvent, d.LogTail
		}
	}
	return e
}

// localError is an error found by the binding itself, before the core is involved.
func localError(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// loadError reports a native library that cannot be loaded (missing, or of another ABI
// version) as an *Error of kind config; the code is this binding's own, as no core exists yet
// to name one.
func loadError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "inferencekey: ")
	return &Error{Kind: KindConfig, Code: "library_not_loaded", Message: msg, cause: err}
}

// redactText is the core's ik_text_redact; text it cannot take (a NUL byte) shows as
// "<redacted>", so an error is never built with an unredacted secret.
func redactText(s string) string {
	if s == "" || !strings.Contains(s, "ik_") && !strings.Contains(s, "whsec_") {
		return s
	}
	out, err := native.RedactText(s)
	if err != nil {
		return "<redacted>"
	}
	return out
}
