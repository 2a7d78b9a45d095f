package inferencekey

import "encoding/json"

// Backend is a serving backend: one of the constants or a custom backend's slug.
type Backend string

// The native backends.
const (
	BackendOllama             Backend = "ollama"
	BackendVLLM               Backend = "vllm"
	BackendVLLMOmni           Backend = "vllm-omni"
	BackendSGLang             Backend = "sglang"
	BackendLlamaCpp           Backend = "llamacpp"
	BackendStableDiffusionCpp Backend = "stablediffusioncpp"
)

// TaskType is what a workload does; the platform's default is TaskText2Text.
type TaskType string

// The task types.
const (
	TaskText2Text      TaskType = "text2text"
	TaskEmbedding      TaskType = "embedding"
	TaskText2Image     TaskType = "text2image"
	TaskText2Video     TaskType = "text2video"
	TaskText2Audio     TaskType = "text2audio"
	TaskImage2Image    TaskType = "image2image"
	TaskImage2Video    TaskType = "image2video"
	TaskAudio2Text     TaskType = "audio2text"
	TaskOmni           TaskType = "omni"
	TaskReranker       TaskType = "reranker"
	TaskClassification TaskType = "classification"
	TaskReward         TaskType = "reward"
	TaskForecast       TaskType = "forecast"
)

// OnDrift says what Ensure does when the live workload differs from the spec.
type OnDrift string

// The drift policies; the default is OnDriftReconcile.
const (
	OnDriftReconcile OnDrift = "reconcile" // patch the workload to match the spec
	OnDriftFail      OnDrift = "fail"      // return an error of kind drift
	OnDriftDryRun    OnDrift = "dry_run"   // write nothing; report the plan
	OnDriftWarn      OnDrift = "warn"      // keep the workload; the result's Action is ActionDriftWarned
	OnDriftIgnore    OnDrift = "ignore"    // keep the workload silently
)

// ExecutionPolicy is how a workload is scheduled.
type ExecutionPolicy string

// The execution policies.
const (
	ExecutionFixed       ExecutionPolicy = "fixed"
	ExecutionScheduled   ExecutionPolicy = "scheduled"
	ExecutionAutoscaling ExecutionPolicy = "autoscaling"
)

// EnsureAction is what an Ensure or Plan that succeeded did (or would do).
type EnsureAction string

// The outcomes of Ensure.
const (
	ActionCreated      EnsureAction = "created"
	ActionUpdated      EnsureAction = "updated"
	ActionUnchanged    EnsureAction = "unchanged"
	ActionPlanned      EnsureAction = "planned"
	ActionDriftIgnored EnsureAction = "drift_ignored"
	ActionDriftWarned  EnsureAction = "drift_warned"
)

// WorkloadSpec is the declared state of a workload. Name, Slug, Model and Backend are
// required; a zero value of any other field means "not set".
type WorkloadSpec struct {
	Name                  string          `json:"name"`
	Slug                  string          `json:"slug"`
	Model                 string          `json:"model"`
	Backend               Backend         `json:"backend"`
	TaskType              TaskType        `json:"task_type,omitempty"`
	Description           string          `json:"description,omitempty"`
	Command               string          `json:"command,omitempty"`
	Config                map[string]any  `json:"config,omitempty"`
	ExecutionPolicy       ExecutionPolicy `json:"execution_policy,omitempty"`
	ExecutionPolicyConfig map[string]any  `json:"execution_policy_config,omitempty"`
	WorkerID              string          `json:"worker_id,omitempty"`
	GPUResourceID         string          `json:"gpu_resource_id,omitempty"`
	VLLMVersion           string          `json:"vllm_version,omitempty"`
	// Project overrides the client's project for this workload.
	Project string `json:"project,omitempty"`
}

// FieldChange is one drifted field (or, for a create, one sent). Live and Desired are JSON
// values as decoded by encoding/json.
type FieldChange struct {
	Field     string `json:"field"` // a spec field, or a dotted config path
	Live      any    `json:"live"`
	Desired   any    `json:"desired"`
	Patchable bool   `json:"patchable"`
}

// Workload is a workload as the server describes it; every field but Slug may be empty.
type Workload struct {
	ID                    string          `json:"id"`
	ProjectID             string          `json:"project_id"`
	ProjectSlug           string          `json:"project_slug"`
	Slug                  string          `json:"slug"`
	Name                  string          `json:"name"`
	Description           string          `json:"description"`
	TaskType              TaskType        `json:"task_type"`
	Backend               Backend         `json:"backend"`
	Model                 string          `json:"model"`
	Config                map[string]any  `json:"config"`
	WorkerID              string          `json:"worker_id"`
	GPUResourceID         string          `json:"gpu_resource_id"`
	ExecutionPolicy       ExecutionPolicy `json:"execution_policy"`
	ExecutionPolicyConfig any             `json:"execution_policy_config"`
	Phase                 string          `json:"phase"`
	CreatedAt             string          `json:"created_at"`
	UpdatedAt             string          `json:"updated_at"`
	// Raw is the object exactly as the server sent it.
	Raw json.RawMessage `json:"raw"`
}

// EnsureResult is the outcome of Ensure or Plan.
type EnsureResult struct {
	ProjectSlug  string        `json:"project_slug"`
	WorkloadSlug string        `json:"workload_slug"`
	Action       EnsureAction  `json:"action"`
	Changes      []FieldChange `json:"changes"`
	WorkloadID   string        `json:"workload_id"`
	Workload     *Workload     `json:"workload"`
	// PlannedOperation is "create" or "update" when Action is ActionPlanned.
	PlannedOperation string `json:"planned_operation"`
}

// ReadinessEvent is one step of a workload becoming ready; its text is redacted.
type ReadinessEvent struct {
	Phase     string `json:"phase"`
	Message   string `json:"message"`
	ElapsedMS int64  `json:"elapsed_ms"`
	Step      string `json:"step"`
	LogTail   string `json:"log_tail"`
}

// Usage counts the tokens of a call.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Message is one chat message. Content is a string, or a list of content parts in OpenAI's
// shape.
type Message struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// TextRequest is the input of GenerateText and GenerateTextStream: Prompt or Messages, and
// optional sampling settings (nil: the server's default).
type TextRequest struct {
	Prompt      string         `json:"prompt,omitempty"`
	Messages    []Message      `json:"messages,omitempty"`
	Temperature *float64       `json:"temperature,omitempty"`
	MaxTokens   *int           `json:"max_tokens,omitempty"`
	TopP        *float64       `json:"top_p,omitempty"`
	Stop        []string       `json:"stop,omitempty"`
	Seed        *int64         `json:"seed,omitempty"`
	ExtraBody   map[string]any `json:"extra_body,omitempty"`
}

// TextResult is a completed generation.
type TextResult struct {
	Text         string
	Model        string
	FinishReason string
	Usage        *Usage
	RequestID    string
	// Raw is the response body as the server sent it.
	Raw json.RawMessage
}

// TextChunk is one piece of a streamed generation.
type TextChunk struct {
	Text         string
	FinishReason string // set on the last chunk
	// Raw is the event's data as the server sent it.
	Raw json.RawMessage
}

// EmbedRequest is the input of Embed: the texts, embedded in order.
type EmbedRequest struct {
	Input     []string       `json:"input"`
	ExtraBody map[string]any `json:"extra_body,omitempty"`
}

// EmbedResult holds one vector per input, in input order.
type EmbedResult struct {
	Embeddings [][]float64
	Model      string
	Usage      *Usage
	RequestID  string
	// Raw is the response body without the vectors (they are in Embeddings).
	Raw json.RawMessage
}

// RerankRequest is the input of Rerank.
type RerankRequest struct {
	Query     string         `json:"query"`
	Documents []string       `json:"documents"`
	TopN      *int           `json:"top_n,omitempty"`
	ExtraBody map[string]any `json:"extra_body,omitempty"`
}

// RerankItem is one ranked document.
type RerankItem struct {
	Index          int     `json:"index"` // the document's position in the request
	RelevanceScore float64 `json:"relevance_score"`
	Document       string  `json:"document"` // when the server echoed it
}

// RerankResult ranks the documents, best first.
type RerankResult struct {
	Results   []RerankItem    `json:"results"`
	Model     string          `json:"model"`
	Usage     *Usage          `json:"usage"`
	RequestID string          `json:"request_id"`
	Raw       json.RawMessage `json:"raw"`
}

// Float returns a pointer to v, for the optional fields of requests.
func Float(v float64) *float64 { return &v }

// Int returns a pointer to v, for the optional fields of requests.
func Int(v int) *int { return &v }

// Int64 returns a pointer to v, for the optional fields of requests.
func Int64(v int64) *int64 { return &v }
