// Command quickstart is the SDK's quickstart in Go: declare a chat and an embedding workload,
// wait until they serve, then generate, stream and embed. It reads its configuration from
// the environment, as `inferencekey dev` sets it (INFERENCEKEY_SDK_TOKEN, INFERENCEKEY_API_KEY,
// INFERENCEKEY_BASE_URL).
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/inferencekey/inferencekey-sdk/go"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Control plane: reads INFERENCEKEY_SDK_TOKEN (ik_sdk_...), scoped to one project.
	mgmt, err := inferencekey.NewManagementClientFromEnv(inferencekey.WithProject("acme"))
	check(err)
	defer mgmt.Close()
	ref, err := mgmt.Ensure(ctx, inferencekey.WorkloadSpec{Name: "support-bot", Slug: "support-bot",
		Model: "meta-llama/Llama-3.1-8B-Instruct", Backend: inferencekey.BackendVLLM,
		Command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"})
	check(err)
	_, err = mgmt.Ensure(ctx, inferencekey.WorkloadSpec{Name: "Billing Embeddings", Slug: "billing",
		Model: "nomic-embed-text", Backend: inferencekey.BackendOllama, TaskType: inferencekey.TaskEmbedding})
	check(err)
	for _, slug := range []string{ref.WorkloadSlug, "billing"} {
		check(mgmt.WaitUntilReady(ctx, slug))
	}

	// Data plane: one client, many workloads, an ik_live_ key passed per workload.
	data, err := inferencekey.NewDataClientFromEnv(inferencekey.WithProject("acme"))
	check(err)
	defer data.Close()
	ep, err := data.Endpoint(ref.WorkloadSlug, inferencekey.WithAPIKey(os.Getenv("INFERENCEKEY_API_KEY")))
	check(err)
	defer ep.Close()
	out, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hola", Temperature: inferencekey.Float(0.2), MaxTokens: inferencekey.Int(300)})
	check(err)
	fmt.Println(out.Text, out.Model)

	stream, err := ep.GenerateTextStream(ctx, inferencekey.TextRequest{Prompt: "Count to three.", MaxTokens: inferencekey.Int(30)})
	check(err)
	for chunk, err := range stream.All() {
		check(err)
		fmt.Print(chunk.Text)
	}
	fmt.Println()

	billing, err := data.Endpoint("billing", inferencekey.WithAPIKey(os.Getenv("INFERENCEKEY_API_KEY")))
	check(err)
	defer billing.Close()
	emb, err := billing.Embed(ctx, inferencekey.EmbedRequest{Input: []string{"a", "b"}})
	check(err)
	fmt.Println(len(emb.Embeddings), "vectors of", len(emb.Embeddings[0]))
}

func check(err error) {
	if err != nil {
		log.Fatalf("%+v", err)
	}
}
