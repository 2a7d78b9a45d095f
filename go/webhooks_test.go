package inferencekey_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// Signatures are computed here with crypto/hmac, independently of the core.
const webhookSecret = "whsec_5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

func sign(secret string, t int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", t)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

const jobID = "6f1c2b7e-0d55-4c4e-9a57-3b2f1d0c9e11"

func eventBody(t *testing.T, extra map[string]any) []byte {
	t.Helper()
	ev := map[string]any{
		"event": "job.completed", "ts": time.Now().Unix(), "job_id": jobID,
		"context": map[string]any{"order_id": "o-17"},
		"data": map[string]any{
			"job_id": jobID, "status": "completed",
			"output":      map[string]any{"object": "chat.completion", "choices": []any{map[string]any{"index": 0, "finish_reason": "stop"}}},
			"usage":       map[string]any{"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
			"newer_field": "kept",
		},
	}
	for k, v := range extra {
		ev[k] = v
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signed is a delivery's header for body, signed at ts with secret.
func signed(secret string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-InferenceKey-Event", "job")
	h.Set("X-InferenceKey-Job-Id", jobID)
	h.Set("X-InferenceKey-Signature", fmt.Sprintf("t=%d,v1=%s", ts, sign(secret, ts, body)))
	return h
}

// refused checks err is a webhook_signature error with code, and keeps the secret out.
func refused(t *testing.T, err error, code string) {
	t.Helper()
	e := wantKind(t, err, inferencekey.KindWebhookSignature, inferencekey.ErrWebhookSignature)
	if e.Code != code {
		t.Fatalf("code %q, want %q: %v", e.Code, code, e)
	}
	if s := fmt.Sprintf("%+v", err); strings.Contains(s, webhookSecret) {
		t.Fatalf("the secret shows in %s", s)
	}
}

func TestVerifyWebhookValid(t *testing.T) {
	body := eventBody(t, nil)
	ev, err := inferencekey.VerifyWebhook(body, signed(webhookSecret, time.Now().Unix(), body), webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Event != "job.completed" || ev.JobID != jobID || ev.Data == nil || ev.Data.JobID != jobID || ev.Data.Status != "completed" {
		t.Fatalf("event %+v", ev)
	}
	if ev.Data.Usage == nil || ev.Data.Usage.TotalTokens != 4 {
		t.Fatalf("usage %+v", ev.Data.Usage)
	}
	var ctx map[string]string
	if err := json.Unmarshal(ev.Context, &ctx); err != nil || ctx["order_id"] != "o-17" {
		t.Fatalf("context %s (%v)", ev.Context, err)
	}
	if !bytes.Contains(ev.Data.Output, []byte(`"finish_reason":"stop"`)) || !bytes.Contains(ev.Raw, []byte(`"newer_field":"kept"`)) {
		t.Fatalf("output %s raw %s", ev.Data.Output, ev.Raw)
	}
	// A ping: no job, no data, no context.
	ping := []byte(fmt.Sprintf(`{"event":"ping","ts":%d}`, time.Now().Unix()))
	ev, err = inferencekey.VerifyWebhook(ping, signed(webhookSecret, time.Now().Unix(), ping), webhookSecret)
	if err != nil || ev.Event != "ping" || ev.Data != nil || ev.Context != nil || ev.JobID != "" {
		t.Fatalf("ping %+v %v", ev, err)
	}
}

func TestVerifyWebhookTamperedOrWrongSecret(t *testing.T) {
	body := eventBody(t, nil)
	now := time.Now().Unix()
	h := signed(webhookSecret, now, body)
	tampered := bytes.Replace(body, []byte(`"completed"`), []byte(`"failed"`), 1)
	_, err := inferencekey.VerifyWebhook(tampered, h, webhookSecret)
	refused(t, err, inferencekey.CodeWebhookSignatureMismatch)
	_, err = inferencekey.VerifyWebhook(append(append([]byte(nil), body...), ' '), h, webhookSecret)
	refused(t, err, inferencekey.CodeWebhookSignatureMismatch)
	_, err = inferencekey.VerifyWebhook(body, h, "whsec_other")
	refused(t, err, inferencekey.CodeWebhookSignatureMismatch)
	_, err = inferencekey.VerifyWebhook(body, signed(webhookSecret+"x", now, body), webhookSecret)
	refused(t, err, inferencekey.CodeWebhookSignatureMismatch)
}

func TestVerifyWebhookTimestamps(t *testing.T) {
	body := eventBody(t, nil)
	now := time.Now().Unix()
	for _, ts := range []int64{now - 3600, now + 3600} {
		_, err := inferencekey.VerifyWebhook(body, signed(webhookSecret, ts, body), webhookSecret)
		refused(t, err, inferencekey.CodeWebhookTimestampOutOfTolerance)
	}
	if _, err := inferencekey.VerifyWebhook(body, signed(webhookSecret, now-3600, body), webhookSecret,
		inferencekey.WithTolerance(2*time.Hour)); err != nil {
		t.Fatalf("a wider tolerance: %v", err)
	}
	_, err := inferencekey.VerifyWebhook(body, signed(webhookSecret, now-3600, body), webhookSecret, inferencekey.WithTolerance(time.Minute))
	refused(t, err, inferencekey.CodeWebhookTimestampOutOfTolerance)
	_, err = inferencekey.VerifyWebhook(body, signed(webhookSecret, now, body), webhookSecret, inferencekey.WithTolerance(-time.Second))
	if !errors.Is(err, inferencekey.ErrValidation) && !errors.Is(err, inferencekey.ErrInvalidJSON) {
		t.Fatalf("a negative tolerance: %v", err)
	}
}

func TestVerifyWebhookSeveralSignatures(t *testing.T) {
	body := eventBody(t, nil)
	now := time.Now().Unix()
	good, other := sign(webhookSecret, now, body), sign("whsec_rotated_out", now, body)
	for _, sig := range []string{fmt.Sprintf("t=%d,v1=%s,v1=%s", now, other, good), fmt.Sprintf("t=%d,v1=%s,v1=%s", now, good, other)} {
		if _, err := inferencekey.VerifyWebhook(body, http.Header{"X-Inferencekey-Signature": {sig}}, webhookSecret); err != nil {
			t.Fatalf("%s: %v", sig, err)
		}
	}
	sig := fmt.Sprintf("t=%d,v1=%s,v1=%s", now, other, strings.Repeat("0", 64))
	_, err := inferencekey.VerifyWebhook(body, http.Header{"X-Inferencekey-Signature": {sig}}, webhookSecret)
	refused(t, err, inferencekey.CodeWebhookSignatureMismatch)
}

func TestVerifyWebhookMalformedHeaders(t *testing.T) {
	body := eventBody(t, nil)
	now := time.Now().Unix()
	good := sign(webhookSecret, now, body)
	for _, sig := range []string{"", "garbage", "v1=" + good, fmt.Sprintf("t=%d", now), "t=yesterday,v1=" + good,
		fmt.Sprintf("t=%d;v1=%s", now, good)} {
		_, err := inferencekey.VerifyWebhook(body, http.Header{"X-Inferencekey-Signature": {sig}}, webhookSecret)
		refused(t, err, inferencekey.CodeWebhookHeaderMalformed)
	}
	for _, h := range []http.Header{nil, {}, {"X-Inferencekey-Event": {"job"}}} {
		_, err := inferencekey.VerifyWebhook(body, h, webhookSecret)
		refused(t, err, inferencekey.CodeWebhookHeaderMalformed)
	}
}

func TestVerifyWebhookPayloadNoEvent(t *testing.T) {
	now := time.Now().Unix()
	for _, text := range []string{"not json", "[1,2]", `{"ts":1}`, ""} {
		body := []byte(text)
		_, err := inferencekey.VerifyWebhook(body, signed(webhookSecret, now, body), webhookSecret)
		refused(t, err, inferencekey.CodeWebhookPayloadInvalid)
	}
}

// Header names in any case: a Header built by hand (not canonicalised) as well as by Set.
func TestVerifyWebhookHeaderNamesAnyCase(t *testing.T) {
	body := eventBody(t, nil)
	sig := signed(webhookSecret, time.Now().Unix(), body).Get("X-InferenceKey-Signature")
	for _, name := range []string{"x-inferencekey-signature", "X-INFERENCEKEY-SIGNATURE", "X-InferenceKey-Signature"} {
		if _, err := inferencekey.VerifyWebhook(body, http.Header{name: {sig}}, webhookSecret); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestVerifyWebhookBadArguments(t *testing.T) {
	body := eventBody(t, nil)
	h := signed(webhookSecret, time.Now().Unix(), body)
	_, err := inferencekey.VerifyWebhook(body, h, "")
	var e *inferencekey.Error
	if !errors.As(err, &e) || e.Kind == inferencekey.KindWebhookSignature {
		t.Fatalf("an empty secret: %v", err)
	}
	if _, err := inferencekey.VerifyWebhook(body, h, "whsec_\x00x"); !errors.As(err, &e) {
		t.Fatalf("a NUL in the secret: %v", err)
	}
	h.Set("X-Extra", "a\x00b") // a hostile header value: refused or ignored, never a crash
	_, _ = inferencekey.VerifyWebhook(body, h, webhookSecret)
}

func TestVerifyWebhookLargeBody(t *testing.T) {
	body := eventBody(t, map[string]any{"padding": strings.Repeat("x", 8<<20)})
	h := signed(webhookSecret, time.Now().Unix(), body)
	if _, err := inferencekey.VerifyWebhook(body, h, webhookSecret); err != nil {
		t.Fatal(err)
	}
	body[len(body)-20] ^= 1
	_, err := inferencekey.VerifyWebhook(body, h, webhookSecret)
	refused(t, err, inferencekey.CodeWebhookSignatureMismatch)
}

// A failed job's error decodes whatever shape the backend gave it (a numeric code, a string).
func TestVerifyWebhookFailedJob(t *testing.T) {
	for errJSON, want := range map[string]inferencekey.JobError{
		`{"message":"out of memory","type":"server_error","code":507}`: {Message: "out of memory", Type: "server_error", Code: "507"},
		`{"message":"bad","code":"invalid_input","param":null}`:        {Message: "bad", Code: "invalid_input"},
		`"backend crashed"`: {},
	} {
		body := []byte(fmt.Sprintf(`{"event":"job.failed","ts":%d,"job_id":"j1","data":{"job_id":"j1","status":"failed","error":%s}}`,
			time.Now().Unix(), errJSON))
		ev, err := inferencekey.VerifyWebhook(body, signed(webhookSecret, time.Now().Unix(), body), webhookSecret)
		if err != nil {
			t.Fatalf("%s: %v", errJSON, err)
		}
		if ev.Event != "job.failed" || ev.Data.Status != "failed" || ev.Data.Error == nil || *ev.Data.Error != want {
			t.Fatalf("%s: %+v", errJSON, ev.Data.Error)
		}
	}
}
