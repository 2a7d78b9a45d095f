package inferencekey

import (
	"context"
	"encoding/json"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// DataClient calls the data plane of one project. Its endpoints share its connection pool.
// It is safe for concurrent use; Close it when done.
type DataClient struct {
	h *handle
}

// NewDataClient creates a data client from options alone: WithProject is required; WithAPIKey
// sets the default key of its endpoints.
func NewDataClient(opts ...Option) (*DataClient, error) { return newData(false, opts) }

// NewDataClientFromEnv creates a data client whose unset options come from the environment
// (INFERENCEKEY_API_KEY, INFERENCEKEY_PROJECT, INFERENCEKEY_DATA_URL, ...), resolved by the core.
func NewDataClientFromEnv(opts ...Option) (*DataClient, error) { return newData(true, opts) }

func newData(fromEnv bool, opts []Option) (*DataClient, error) {
	h, err := newHandle(native.Data, buildConfig(fromEnv, opts))
	if err != nil {
		return nil, err
	}
	c := &DataClient{h: h}
	track(c, h)
	return c, nil
}

// Close releases the client; its endpoints stay usable until closed themselves.
func (c *DataClient) Close() error {
	c.h.close()
	return nil
}

// String describes the client (URL and project).
func (c *DataClient) String() string { return describe(native.Data, c.h.id) }

// Endpoint returns the endpoint of one workload. Only WithAPIKey applies: the workload's
// ik_live_ key, else the client's default. No request is made.
func (c *DataClient) Endpoint(slug string, opts ...Option) (*Endpoint, error) {
	cfg := buildConfig(false, opts)
	req, err := encode(struct {
		Slug   string  `json:"workload_slug"`
		APIKey *string `json:"api_key"`
	}{slug, cfg.APIKey})
	if err != nil {
		return nil, err
	}
	id, info := native.Derive(native.Endpoint, c.h.id, req)
	if info != nil {
		return nil, errorFromNative(info)
	}
	h := &handle{kind: native.Endpoint, id: id}
	ep := &Endpoint{h: h}
	track(ep, h)
	return ep, nil
}

// Endpoint calls one workload. It is safe for concurrent use; Close it when done.
type Endpoint struct {
	h *handle
}

// Close releases the endpoint (its key is zeroed in memory).
func (e *Endpoint) Close() error {
	e.h.close()
	return nil
}

// String describes the endpoint with its key redacted.
func (e *Endpoint) String() string { return describe(native.Endpoint, e.h.id) }

// partRef names a binary part of a result buffer.
type partRef struct {
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
	Rows   int    `json:"rows"`
	Cols   int    `json:"cols"`
}

// GenerateText generates a completion of a prompt or a chat.
func (e *Endpoint) GenerateText(ctx context.Context, req TextRequest) (*TextResult, error) {
	var out *TextResult
	err := run(ctx, native.OpGenerate, e.h.id, req, func(b native.Buffer) error {
		var r struct {
			Text         string  `json:"text"`
			Model        string  `json:"model"`
			FinishReason string  `json:"finish_reason"`
			Usage        *Usage  `json:"usage"`
			RequestID    string  `json:"request_id"`
			RawPart      partRef `json:"raw_part"`
		}
		if err := decodeJSON(&r)(b); err != nil {
			return err
		}
		raw, err := b.Bytes(r.RawPart.Offset, r.RawPart.Length)
		if err != nil {
			return localError(KindAPI, CodeInvalidResponse, "%v", err)
		}
		out = &TextResult{Text: r.Text, Model: r.Model, FinishReason: r.FinishReason, Usage: r.Usage,
			RequestID: r.RequestID, Raw: raw}
		return nil
	})
	return out, err
}

// Embed embeds the input texts, one vector each, in order.
func (e *Endpoint) Embed(ctx context.Context, req EmbedRequest) (*EmbedResult, error) {
	var out *EmbedResult
	err := run(ctx, native.OpEmbed, e.h.id, req, func(b native.Buffer) error {
		var r struct {
			Embeddings json.RawMessage `json:"embeddings"`
			Model      string          `json:"model"`
			Usage      *Usage          `json:"usage"`
			RequestID  string          `json:"request_id"`
			Raw        json.RawMessage `json:"raw"`
		}
		if err := decodeJSON(&r)(b); err != nil {
			return err
		}
		out = &EmbedResult{Model: r.Model, Usage: r.Usage, RequestID: r.RequestID, Raw: r.Raw}
		// Vectors of one length come packed (one copy into one slice, rows sliced from it);
		// ragged ones as JSON lists.
		if len(r.Embeddings) > 0 && r.Embeddings[0] == '[' {
			if err := json.Unmarshal(r.Embeddings, &out.Embeddings); err != nil {
				return localError(KindAPI, CodeInvalidResponse, "embeddings: %v", err)
			}
			return nil
		}
		var part partRef
		if err := json.Unmarshal(r.Embeddings, &part); err != nil {
			return localError(KindAPI, CodeInvalidResponse, "embeddings: %v", err)
		}
		flat, err := b.Float64s(part.Offset, part.Length)
		if err != nil || part.Rows*part.Cols != len(flat) {
			return localError(KindAPI, CodeInvalidResponse, "embeddings: a malformed part (%v)", err)
		}
		out.Embeddings = make([][]float64, part.Rows)
		for i := range out.Embeddings {
			out.Embeddings[i] = flat[i*part.Cols : (i+1)*part.Cols : (i+1)*part.Cols]
		}
		return nil
	})
	return out, err
}

// Rerank ranks documents by relevance to the query, best first.
func (e *Endpoint) Rerank(ctx context.Context, req RerankRequest) (*RerankResult, error) {
	var out RerankResult
	if err := run(ctx, native.OpRerank, e.h.id, req, decodeJSON(&out)); err != nil {
		return nil, err
	}
	return &out, nil
}

// WithOptions returns a client sharing this one's connections and default key with other
// timeouts, retries or headers (WithTimeout, WithConnectTimeout, WithMaxRetries, WithHeader);
// its endpoints use them. Close it as well.
func (c *DataClient) WithOptions(opts ...Option) (*DataClient, error) {
	body, err := derivedOptions(opts)
	if err != nil {
		return nil, err
	}
	id, info := native.Derive(native.Data, c.h.id, body)
	if info != nil {
		return nil, errorFromNative(info)
	}
	h := &handle{kind: native.Data, id: id}
	d := &DataClient{h: h}
	track(d, h)
	return d, nil
}
