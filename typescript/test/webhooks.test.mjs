// verifyWebhook against signatures computed here, independently of the core (node:crypto's
// HMAC-SHA256 over "{t}.{raw body}"): valid deliveries in every header shape, and every way
// a delivery can fail, each as WebhookSignatureError with the code naming why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { inspect } from "node:util";
import * as sdk from "@inferencekey/sdk";

const SECRET = "whsec_" + "5a".repeat(24);
const now = () => Math.floor(Date.now() / 1000);
const sign = (secret, t, body) => createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");

const EVENT = {
  event: "job.completed",
  ts: now(),
  job_id: "6f1c2b7e-0d55-4c4e-9a57-3b2f1d0c9e11",
  context: { order_id: "o-17", nested_key: [1, 2] },
  data: {
    job_id: "6f1c2b7e-0d55-4c4e-9a57-3b2f1d0c9e11",
    status: "completed",
    output: { object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] },
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    newer_field: "kept",
  },
};
const BODY = Buffer.from(JSON.stringify(EVENT));

/** The delivery's headers, signed now (or at `t`) over `body` with `secret`. */
function delivery({ body = BODY, secret = SECRET, t = now(), signature } = {}) {
  return {
    "content-type": "application/json",
    "x-inferencekey-event": "job",
    "x-inferencekey-job-id": EVENT.job_id,
    "x-inferencekey-signature": signature ?? `t=${t},v1=${sign(secret, t, body)}`,
  };
}

function rejects(fn, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof sdk.WebhookSignatureError, `${e?.name}: ${e?.message}`);
    assert.ok(e instanceof sdk.InferenceKeyError);
    if (code !== undefined) assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes(SECRET) && !inspect(e).includes(SECRET), "the secret stays out of errors");
    return true;
  });
}

test("a valid delivery verifies to a typed, camelCased event; user data and outputs keep their keys", () => {
  const event = sdk.verifyWebhook(BODY, delivery(), SECRET);
  assert.equal(event.event, "job.completed");
  assert.equal(event.ts, EVENT.ts);
  assert.equal(event.jobId, EVENT.job_id);
  assert.deepEqual(event.context, EVENT.context);
  assert.equal(event.data.jobId, EVENT.job_id);
  assert.equal(event.data.status, "completed");
  assert.deepEqual(event.data.output, EVENT.data.output);
  assert.deepEqual(event.data.usage, { promptTokens: 3, completionTokens: 1, totalTokens: 4 });
  assert.equal(event.data.newerField, "kept");
  // The same bytes as a Uint8Array view at an offset, and as text.
  const padded = Buffer.concat([Buffer.from("xxxx"), BODY]);
  assert.equal(sdk.verifyWebhook(new Uint8Array(padded.buffer, padded.byteOffset + 4, BODY.length), delivery(), SECRET).jobId, EVENT.job_id);
  assert.equal(sdk.verifyWebhook(BODY.toString("utf8"), delivery(), SECRET).jobId, EVENT.job_id);
  // An ArrayBuffer, as `await request.arrayBuffer()` gives it (fetch-style handlers).
  const ab = new ArrayBuffer(BODY.length);
  new Uint8Array(ab).set(BODY);
  assert.equal(sdk.verifyWebhook(ab, delivery(), SECRET).jobId, EVENT.job_id);
  // A fetch Request's own body and headers, end to end.
  const request = new Request("http://localhost/hook", { method: "POST", body: BODY, headers: delivery() });
  return request.arrayBuffer().then((raw) => assert.equal(sdk.verifyWebhook(raw, request.headers, SECRET).jobId, EVENT.job_id));
});

test("a ping has no job: jobId, context and data are null", () => {
  const body = Buffer.from(JSON.stringify({ event: "ping", ts: now() }));
  const event = sdk.verifyWebhook(body, delivery({ body }), SECRET);
  assert.deepEqual([event.event, event.jobId, event.context, event.data], ["ping", null, null, null]);
});

test("a failed job: its error comes through as sent", () => {
  const body = Buffer.from(JSON.stringify({ event: "job.failed", ts: now(), job_id: "j1", data: { job_id: "j1", status: "failed", error: { message: "out of memory", type: "server_error", code: 507 } } }));
  const event = sdk.verifyWebhook(body, delivery({ body }), SECRET);
  assert.equal(event.event, "job.failed");
  assert.equal(event.data.status, "failed");
  assert.deepEqual(event.data.error, { message: "out of memory", type: "server_error", code: 507 });
  assert.equal(event.data.output, undefined);
});

test("a tampered body, a wrong secret: webhook_signature_mismatch", () => {
  const tampered = Buffer.from(BODY.toString().replace('"completed"', '"failed"'));
  rejects(() => sdk.verifyWebhook(tampered, delivery(), SECRET), "webhook_signature_mismatch");
  rejects(() => sdk.verifyWebhook(Buffer.concat([BODY, Buffer.from(" ")]), delivery(), SECRET), "webhook_signature_mismatch");
  rejects(() => sdk.verifyWebhook(BODY, delivery({ secret: SECRET + "x" }), SECRET), "webhook_signature_mismatch");
  rejects(() => sdk.verifyWebhook(BODY, delivery(), "whsec_other"), "webhook_signature_mismatch");
});

test("stale and future timestamps: webhook_timestamp_out_of_tolerance; toleranceSec widens or narrows it", () => {
  rejects(() => sdk.verifyWebhook(BODY, delivery({ t: now() - 3600 }), SECRET), "webhook_timestamp_out_of_tolerance");
  rejects(() => sdk.verifyWebhook(BODY, delivery({ t: now() + 3600 }), SECRET), "webhook_timestamp_out_of_tolerance");
  assert.equal(sdk.verifyWebhook(BODY, delivery({ t: now() - 3600 }), SECRET, { toleranceSec: 7200 }).event, "job.completed");
  rejects(() => sdk.verifyWebhook(BODY, delivery({ t: now() - 3600 }), SECRET, { toleranceSec: 60 }), "webhook_timestamp_out_of_tolerance");
});

test("several v1 values: any match verifies; none matching does not", () => {
  const t = now();
  const good = sign(SECRET, t, BODY);
  const other = sign("whsec_rotated_out", t, BODY);
  assert.ok(sdk.verifyWebhook(BODY, delivery({ signature: `t=${t},v1=${other},v1=${good}` }), SECRET));
  assert.ok(sdk.verifyWebhook(BODY, delivery({ signature: `t=${t},v1=${good},v1=${other}` }), SECRET));
  rejects(() => sdk.verifyWebhook(BODY, delivery({ signature: `t=${t},v1=${other},v1=${"0".repeat(64)}` }), SECRET), "webhook_signature_mismatch");
});

test("malformed or missing signature headers: webhook_header_malformed", () => {
  const t = now();
  const good = sign(SECRET, t, BODY);
  for (const signature of ["", "garbage", `v1=${good}`, `t=${t}`, `t=yesterday,v1=${good}`, `t=${t};v1=${good}`]) {
    rejects(() => sdk.verifyWebhook(BODY, delivery({ signature }), SECRET), "webhook_header_malformed");
  }
  const { "x-inferencekey-signature": _, ...unsigned } = delivery();
  rejects(() => sdk.verifyWebhook(BODY, unsigned, SECRET), "webhook_header_malformed");
  rejects(() => sdk.verifyWebhook(BODY, {}, SECRET), "webhook_header_malformed");
});

test("a signed body that is no event: webhook_payload_invalid", () => {
  for (const text of ["not json", "[1,2]", '{"ts":1}', ""]) {
    const body = Buffer.from(text);
    rejects(() => sdk.verifyWebhook(body, delivery({ body }), SECRET), "webhook_payload_invalid");
  }
});

test("header names are case-insensitive, in every accepted shape of headers", () => {
  const signature = delivery()["x-inferencekey-signature"];
  const shapes = [
    { "X-InferenceKey-Signature": signature },
    { "X-INFERENCEKEY-SIGNATURE": [signature] }, // Node's IncomingHttpHeaders may hold arrays
    new Headers({ "X-Inferencekey-Signature": signature }),
    new Map([["x-InferenceKey-signature", signature]]),
    [["Content-Type", "application/json"], ["X-InferenceKey-Signature", signature]],
    { "x-inferencekey-signature": signature, "x-absent": undefined },
  ];
  for (const headers of shapes) assert.equal(sdk.verifyWebhook(BODY, headers, SECRET).jobId, EVENT.job_id, inspect(headers));
});

test("bad arguments: a typed error, never a crash; the secret never shows", () => {
  assert.throws(() => sdk.verifyWebhook(EVENT, delivery(), SECRET), (e) => e instanceof sdk.ValidationError && e.code === "invalid_argument");
  assert.throws(() => sdk.verifyWebhook(BODY, delivery(), ""), sdk.InferenceKeyError);
  assert.throws(() => sdk.verifyWebhook(BODY, [["x-inferencekey-signature", 7]], SECRET), sdk.InferenceKeyError);
  assert.throws(() => sdk.verifyWebhook(BODY, delivery(), SECRET, { toleranceSec: -1 }), sdk.InferenceKeyError);
  // A NUL in the secret or a header value is refused cleanly too.
  assert.throws(() => sdk.verifyWebhook(BODY, delivery(), "whsec_\0x"), sdk.InferenceKeyError);
});

test("a large body (8 MiB) verifies, and one flipped byte in it does not", () => {
  const event = { ...EVENT, data: { ...EVENT.data, output: { text: "x".repeat(8 * 2 ** 20) } } };
  const body = Buffer.from(JSON.stringify(event));
  assert.equal(sdk.verifyWebhook(body, delivery({ body }), SECRET).data.output.text.length, 8 * 2 ** 20);
  const headers = delivery({ body });
  body[body.length - 10] ^= 1;
  rejects(() => sdk.verifyWebhook(body, headers, SECRET), "webhook_signature_mismatch");
});
