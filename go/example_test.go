package inferencekey_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// Declare a workload, wait until it serves, and call it.
func Example() {
	ctx := context.Background()
	mgmt, err := inferencekey.NewManagementClientFromEnv(inferencekey.WithProject("acme"))
	if err != nil {
		log.Fatal(err)
	}
	defer mgmt.Close()
	ref, err := mgmt.Ensure(ctx, inferencekey.WorkloadSpec{Name: "support-bot", Slug: "support-bot",
		Model: "meta-llama/Llama-3.1-8B-Instruct", Backend: inferencekey.BackendVLLM})
	if err != nil {
		log.Fatal(err)
	}
	if err := mgmt.WaitUntilReady(ctx, ref.WorkloadSlug); err != nil {
		log.Fatal(err)
	}
	data, err := inferencekey.NewDataClientFromEnv(inferencekey.WithProject("acme"))
	if err != nil {
		log.Fatal(err)
	}
	defer data.Close()
	ep, err := data.Endpoint(ref.WorkloadSlug, inferencekey.WithAPIKey(os.Getenv("INFERENCEKEY_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	defer ep.Close()
	out, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hola", MaxTokens: inferencekey.Int(300)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Text, out.Model)
}

// Range over a stream; breaking out of the loop closes it.
func ExampleEndpoint_GenerateTextStream() {
	var ep *inferencekey.Endpoint // from DataClient.Endpoint
	stream, err := ep.GenerateTextStream(context.Background(), inferencekey.TextRequest{Prompt: "Tell me a story."})
	if err != nil {
		log.Fatal(err)
	}
	for chunk, err := range stream.All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(chunk.Text)
	}
	fmt.Println("\ntokens:", stream.Usage())
}

// Test an error's kind with errors.Is, read its fields with errors.As.
func ExampleError() {
	var mgmt *inferencekey.ManagementClient // from NewManagementClientFromEnv
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := mgmt.Get(ctx, "support-bot")
	var e *inferencekey.Error
	switch {
	case errors.Is(err, inferencekey.ErrNotFound):
		fmt.Println("no such workload")
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("gave up after 30 s")
	case errors.As(err, &e) && e.Kind == inferencekey.KindRateLimited:
		fmt.Println("retry after", e.RetryAfter)
	case err != nil:
		log.Fatalf("%+v", err) // %+v adds the request id and details; never a secret
	}
}

// Show how far a workload got while waiting for it.
func ExampleWithProgress() {
	var mgmt *inferencekey.ManagementClient // from NewManagementClientFromEnv
	err := mgmt.WaitUntilReady(context.Background(), "support-bot",
		inferencekey.WithReadinessTimeout(5*time.Minute),
		inferencekey.WithProgress(func(e inferencekey.ReadinessEvent) {
			fmt.Printf("%s: %s\n", e.Phase, e.Message)
		}))
	if err != nil {
		log.Fatal(err)
	}
}

// Submit a chat job; its result is delivered to the workload's webhooks.
func ExampleEndpoint_SubmitJob() {
	data, err := inferencekey.NewDataClientFromEnv(inferencekey.WithProject("acme"))
	if err != nil {
		log.Fatal(err)
	}
	defer data.Close()
	ep, err := data.Endpoint("support-bot")
	if err != nil {
		log.Fatal(err)
	}
	defer ep.Close()
	job, err := ep.SubmitJob(context.Background(), inferencekey.JobRequest{
		Kind:    inferencekey.JobKindChat,
		Body:    map[string]any{"messages": []inferencekey.Message{{Role: "user", Content: "Summarise our refund policy."}}},
		Context: map[string]any{"order_id": 17},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("submitted", job.JobID)
}

// A net/http receiver of job deliveries: verify the raw body, then act once per job.
func ExampleVerifyWebhook() {
	http.HandleFunc("POST /hooks/inferencekey", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		ev, err := inferencekey.VerifyWebhook(body, r.Header, os.Getenv("IK_WEBHOOK_SECRET"))
		if errors.Is(err, inferencekey.ErrWebhookSignature) {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, "cannot verify", http.StatusInternalServerError)
			return
		}
		if ev.Event == "job.completed" {
			fmt.Println(ev.JobID, string(ev.Data.Output)) // deliveries are at-least-once: dedupe on JobID
		}
		w.WriteHeader(http.StatusNoContent) // within 3 s
	})
}
