package inferencekey

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// JobKind is what an async job runs: one of the constants, or an alias the platform accepts
// ("chat_completions", "reranking", "images_generations"). The core checks it before sending.
type JobKind string

// The job kinds.
const (
	JobKindChat                JobKind = "chat"
	JobKindEmbeddings          JobKind = "embeddings"
	JobKindRerank              JobKind = "rerank"
	JobKindAudioSpeech         JobKind = "audio_speech"
	JobKindAudioGenerate       JobKind = "audio_generate"
	JobKindAudioTranscriptions JobKind = "audio_transcriptions"
	JobKindImages              JobKind = "images"
	JobKindImagesEdits         JobKind = "images_edits"
	JobKindImagesVariations    JobKind = "images_variations"
	JobKindForecast            JobKind = "forecast"
)

// JobRequest is the input of SubmitJob: a JSON Body, or BodyBytes with their ContentType
// (multipart audio, for instance). Exactly one of the two; chat takes JSON only.
type JobRequest struct {
	Kind JobKind
	// Body is the route's JSON request: a map or a struct that encodes as a JSON object
	// (model defaults to the workload's slug).
	Body any
	// BodyBytes is a non-JSON body, sent as base64.
	BodyBytes []byte
	// ContentType is the media type of BodyBytes, e.g. "multipart/form-data; boundary=…".
	ContentType string
	// Context is any JSON value, echoed back in the job's webhook deliveries (e.g. your own
	// order id).
	Context any
}

// MarshalJSON encodes the request as the core reads it (JobRequest in the ABI's schema).
func (r JobRequest) MarshalJSON() ([]byte, error) {
	wire := struct {
		Kind        JobKind `json:"kind"`
		Body        any     `json:"body,omitempty"`
		BodyB64     *string `json:"body_b64,omitempty"`
		ContentType string  `json:"content_type,omitempty"`
		Context     any     `json:"context,omitempty"`
	}{Kind: r.Kind, Body: r.Body, ContentType: r.ContentType, Context: r.Context}
	if r.BodyBytes != nil {
		b64 := base64.StdEncoding.EncodeToString(r.BodyBytes)
		wire.BodyB64 = &b64
	}
	return json.Marshal(wire)
}

// JobRef is a submitted job: match its webhook deliveries on JobID.
type JobRef struct {
	JobID     string  `json:"job_id"`
	Kind      JobKind `json:"kind"` // the wire name (an alias comes back canonical)
	RequestID string  `json:"request_id"`
}

// SubmitJob submits a fire-and-forget job; its result is delivered to the workload's webhooks
// (verify each delivery with VerifyWebhook). An unknown kind, a missing or doubled body, or
// bytes for chat are errors of kind validation before anything is sent; a kind the platform
// does not run is an API error (code http_501). A submission is retried only when it cannot
// have reached the server, so a job never runs twice. As for the other calls, ctx bounds and
// cancels it, and a client from WithOptions sets other timeouts, retries or headers.
func (e *Endpoint) SubmitJob(ctx context.Context, req JobRequest) (JobRef, error) {
	var out JobRef
	err := run(ctx, native.OpSubmitJob, e.h.id, req, decodeJSON(&out))
	return out, err
}
