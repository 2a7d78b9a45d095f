package inferencekey_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// devEnv points the FromEnv constructors at the local platform, as `inferencekey dev` does.
func devEnv(t *testing.T) {
	d := platform(t)
	t.Setenv("INFERENCEKEY_BASE_URL", d.BaseURL)
	t.Setenv("INFERENCEKEY_SDK_TOKEN", creds.SDKToken)
	t.Setenv("INFERENCEKEY_API_KEY", creds.APIKey)
}

func mustMgmt(t *testing.T) *inferencekey.ManagementClient {
	t.Helper()
	mgmt, err := inferencekey.NewManagementClient(inferencekey.WithBaseURL(platform(t).BaseURL),
		inferencekey.WithProject("acme"), inferencekey.WithSDKToken(creds.SDKToken), realModelTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgmt.Close() })
	return mgmt
}

func mustData(t *testing.T) *inferencekey.DataClient {
	t.Helper()
	data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(platform(t).BaseURL),
		inferencekey.WithProject("acme"), inferencekey.WithAPIKey(creds.APIKey), realModelTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = data.Close() })
	return data
}

// realModelTimeout lets one attempt of a call on a CPU model take longer than the default
// 60 s: on a loaded 2-core machine a generation can (the calls' contexts still bound them).
var realModelTimeout = inferencekey.WithTimeout(4 * time.Minute)

var (
	chatSpec = inferencekey.WorkloadSpec{Name: "support-bot", Slug: "support-bot",
		Model: "meta-llama/Llama-3.1-8B-Instruct", Backend: inferencekey.BackendVLLM,
		Command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"}
	embedSpec = inferencekey.WorkloadSpec{Name: "Billing Embeddings", Slug: "billing",
		Model: "nomic-embed-text", Backend: inferencekey.BackendOllama, TaskType: inferencekey.TaskEmbedding}
	rerankSpec = inferencekey.WorkloadSpec{Name: "Ranker", Slug: "ranker",
		Model: "bge-reranker", Backend: inferencekey.BackendVLLM, TaskType: inferencekey.TaskReranker}
)

// ready ensures a workload and waits until it serves.
func ready(t *testing.T, spec inferencekey.WorkloadSpec) {
	t.Helper()
	mgmt := mustMgmt(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := mgmt.Ensure(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := mgmt.WaitUntilReady(ctx, spec.Slug); err != nil {
		t.Fatal(err)
	}
}

// The seed's quickstart, translated: ensure, wait (with progress), generate, stream, embed,
// rerank, with clients configured from the environment.
func TestQuickstart(t *testing.T) {
	devEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	mgmt, err := inferencekey.NewManagementClientFromEnv(inferencekey.WithProject("acme"), realModelTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()
	ref, err := mgmt.Ensure(ctx, chatSpec)
	if err != nil {
		t.Fatal(err)
	}
	if ref.WorkloadSlug != "support-bot" || ref.ProjectSlug != "acme" {
		t.Fatalf("ensure: %+v", ref)
	}
	var events []inferencekey.ReadinessEvent
	err = mgmt.WaitUntilReady(ctx, ref.WorkloadSlug,
		inferencekey.WithProgress(func(e inferencekey.ReadinessEvent) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[len(events)-1].Phase != "ready" {
		t.Fatalf("wait: events %+v", events)
	}
	again, err := mgmt.Ensure(ctx, chatSpec)
	if err != nil || again.Action != inferencekey.ActionUnchanged {
		t.Fatalf("second ensure: %+v, %v", again, err)
	}

	data, err := inferencekey.NewDataClientFromEnv(inferencekey.WithProject("acme"), realModelTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	ep, err := data.Endpoint(ref.WorkloadSlug)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	out, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hola", Temperature: inferencekey.Float(0.2), MaxTokens: inferencekey.Int(30)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.Text) == "" || out.Model == "" || out.FinishReason == "" || len(out.Raw) == 0 {
		t.Fatalf("generate: %+v", out)
	}
	if out.Usage == nil || out.Usage.CompletionTokens == 0 {
		t.Fatalf("generate usage: %+v", out.Usage)
	}

	stream, err := ep.GenerateTextStream(ctx, inferencekey.TextRequest{Prompt: "Count to five.", MaxTokens: inferencekey.Int(20)})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var finish string
	for chunk, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Text)
		if chunk.FinishReason != "" {
			finish = chunk.FinishReason
		}
	}
	if strings.TrimSpace(text.String()) == "" || finish == "" {
		t.Fatalf("stream: text %q, finish %q", text.String(), finish)
	}
	if stream.RequestID() == "" {
		t.Fatal("stream: no request id after the range")
	}

	ready(t, embedSpec)
	emb, err := data.Endpoint("billing")
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	vecs, err := emb.Embed(ctx, inferencekey.EmbedRequest{Input: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs.Embeddings) != 2 || len(vecs.Embeddings[0]) != 384 || len(vecs.Embeddings[1]) != 384 {
		t.Fatalf("embed: %d vectors", len(vecs.Embeddings))
	}

	ready(t, rerankSpec)
	rr, err := data.Endpoint("ranker")
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	ranked, err := rr.Rerank(ctx, inferencekey.RerankRequest{Query: "What is the capital of France?",
		Documents: []string{"Bananas are yellow fruit.", "Paris is the capital of France."}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ranked.Results) != 2 || ranked.Results[0].Index != 1 {
		t.Fatalf("rerank: %+v", ranked.Results)
	}

	deleted, err := mgmt.Delete(ctx, "ranker")
	if err != nil || !deleted {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	if _, err := mgmt.Get(ctx, "ranker"); !errors.Is(err, inferencekey.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}
