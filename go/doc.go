// Package inferencekey is the Go SDK of InferenceKey: declare workloads on the control plane
// (ManagementClient: Ensure, Plan, Get, List, Delete, WaitUntilReady) and call them on the data
// plane (DataClient, Endpoint: GenerateText, GenerateTextStream, Embed, Rerank, SubmitJob), and
// verifies the webhook deliveries of jobs (VerifyWebhook).
//
//	mgmt, err := inferencekey.NewManagementClientFromEnv(inferencekey.WithProject("acme"))
//	defer mgmt.Close()
//	ref, err := mgmt.Ensure(ctx, inferencekey.WorkloadSpec{Name: "support-bot", Slug: "support-bot",
//		Model: "meta-llama/Llama-3.1-8B-Instruct", Backend: inferencekey.BackendVLLM})
//	err = mgmt.WaitUntilReady(ctx, ref.WorkloadSlug)
//	data, err := inferencekey.NewDataClientFromEnv(inferencekey.WithProject("acme"))
//	ep, err := data.Endpoint(ref.WorkloadSlug, inferencekey.WithAPIKey(os.Getenv("INFERENCEKEY_API_KEY")))
//	out, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hola", MaxTokens: inferencekey.Int(300)})
//
// # One core, every binding
//
// The behaviour (configuration from the environment, ensure's drift rules, retries,
// timeouts, redaction of ik_sdk_ and ik_live_ tokens) lives once in the InferenceKey core, a
// native library with a C ABI that the Python, TypeScript, Java and Go SDKs all load. This
// package is a thin layer over it: the same errors, codes and results in every language.
//
// # Loading the library: purego, not cgo
//
// The library is loaded at run time with purego (github.com/ebitengine/purego), not linked with
// cgo. Users then need no C compiler, cross-compiling works, and `go get` is the whole install:
// the module embeds the library of each supported platform (linux and darwin, amd64 and arm64),
// extracts the one it needs to the user cache directory once (named by its SHA-256, checked
// before loading) and loads it from there. INFERENCEKEY_LIB overrides the path. At load the ABI
// version is checked; a mismatch is refused with both versions and the path. The price of
// purego is a dynamic library beside the binary rather than one static binary.
//
// # Calls, contexts and goroutines
//
// Every network call takes a context.Context: cancelling it (or its deadline passing)
// cancels the call inside the core, which closes its connection and returns with an *Error
// of kind cancelled that unwraps to ctx.Err(): at once, or within about 50 ms for a call on
// the calling goroutine's thread. A data-plane call runs the ABI's blocking form on that
// thread when one of GOMAXPROCS slots is free (the fastest path: no thread hand-offs; a
// context that can end is watched through a cancel token, which the call's waits check). Beyond those slots, and for the control plane, calls run on the core's own runtime
// (the _async forms, completed through one process-wide callback), pinning no OS thread and
// starting no goroutine: the calling goroutine just waits. So a thousand calls in flight
// still hold at most GOMAXPROCS threads.
//
// # Errors
//
// Every failure is an *Error with Kind, Code, StatusCode, RequestID and RetryAfter. Test it
// with errors.Is(err, inferencekey.ErrNotFound) (kinds nest as in the ABI: ErrValidation also
// matches a drift error) or errors.As. The kinds and codes are generated from the ABI's
// tables. Messages are redacted by the core; printing an error never shows a secret.
//
// # Release
//
// Clients, endpoints and streams hold native resources: Close them. A cleanup frees any that
// are garbage-collected unclosed, as a safety net only.
//
// # Jobs and webhooks
//
// Endpoint.SubmitJob submits a fire-and-forget job (a JobKind and a JSON Body, or BodyBytes
// with a ContentType) and returns its JobRef; the platform delivers the result to the
// workload's webhooks. The core checks the kind and the body rules before sending, and
// retries a submission only when it cannot have reached the server. VerifyWebhook checks a
// delivery's X-InferenceKey-Signature over the raw body (HMAC-SHA256, constant time, any of
// several v1 values, timestamp within WithTolerance, default 5 minutes) and returns the
// WebhookEvent, or an *Error matching ErrWebhookSignature whose Code says why:
//
//	http.HandleFunc("POST /hooks/inferencekey", func(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
//		if err != nil {
//			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
//			return
//		}
//		ev, err := inferencekey.VerifyWebhook(body, r.Header, os.Getenv("IK_WEBHOOK_SECRET"))
//		if err != nil { // errors.Is(err, inferencekey.ErrWebhookSignature): not from the platform
//			http.Error(w, "bad signature", http.StatusBadRequest)
//			return
//		}
//		if ev.Event == "job.completed" {
//			enqueue(ev.JobID, ev.Data.Output) // at-least-once: dedupe on ev.JobID
//		}
//		w.WriteHeader(http.StatusNoContent) // within 3 s
//	})
package inferencekey

import (
	// The per-platform library, embedded.
	_ "github.com/inferencekey/inferencekey-sdk/go/internal/dist"
)
