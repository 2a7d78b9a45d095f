// submitJob: the core's local checks (no request sent), and the exchange against a fake
// platform (named: the local platform's jobs route is not used here) that records the wire
// body and answers 202 with a job id, 501 for a kind it does not run, or hangs.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as sdk from "@inferencekey/sdk";
import { fakeServer, sendJson, LIVE_KEY } from "./support.mjs";

const JOB_ID = "0b9d4a6e-7c21-4f3e-8d5a-1e2f3a4b5c6d";
const fake = await fakeServer((req, res) => {
  if (req.path.startsWith("/hang")) return;
  if (req.path.startsWith("/down")) return sendJson(res, 503, { error: { code: "upstream_error", message: "down" } });
  if (req.path !== "/endpoint/acme/bot/jobs") return sendJson(res, 404, { error: { code: "not_found", message: "no route" } });
  if (req.body.kind === "forecast") return sendJson(res, 501, { error: { code: "not_implemented", message: "kind forecast is not served here" } });
  sendJson(res, 202, { job_id: JOB_ID }, { "x-request-id": "req_job_1" });
});
after(() => fake.close());

const data = new sdk.DataClient({ baseUrl: fake.url, project: "acme", apiKey: LIVE_KEY, maxRetries: 0 });
const ep = data.endpoint("bot");
after(() => (ep.close(), data.close()));

test("a chat job: the wire body, the bearer key, and the 202's job id as a JobRef", async () => {
  const messages = [{ role: "user", content: "hi" }];
  const ref = await ep.submitJob(sdk.JobKind.Chat, { messages, max_tokens: 5 }, { context: { order_id: "o-17" }, headers: { "x-team": "search" } });
  assert.deepEqual(ref, { jobId: JOB_ID, kind: "chat", requestId: "req_job_1" });
  const sent = fake.requests.at(-1);
  assert.equal(sent.method, "POST");
  assert.equal(sent.path, "/endpoint/acme/bot/jobs");
  assert.equal(sent.headers.authorization, `Bearer ${LIVE_KEY}`);
  assert.equal(sent.headers["x-team"], "search");
  assert.equal(sent.body.kind, "chat");
  assert.deepEqual(sent.body.body.messages, messages);
  assert.equal(sent.body.body.max_tokens, 5);
  assert.deepEqual(sent.body.context, { order_id: "o-17" });
  assert.equal(sent.body.body_b64, undefined);
});

test("an alias is sent as its wire name; the JobRef names it too", async () => {
  const ref = await ep.submitJob("reranking", { query: "q", documents: ["a", "b"] });
  assert.equal(ref.kind, "rerank");
  assert.equal(fake.requests.at(-1).body.kind, "rerank");
});

test("a bytes body travels as body_b64 with its content type, exactly (a Uint8Array view at an offset, an ArrayBuffer)", async () => {
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, ...Buffer.from("--b\r\nContent-Disposition: form-data\r\n")]);
  const padded = Buffer.concat([Buffer.from("junk"), bytes]);
  const view = new Uint8Array(padded.buffer, padded.byteOffset + 4, bytes.length);
  const contentType = "multipart/form-data; boundary=b";
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  for (const body of [bytes, view, ab]) {
    await ep.submitJob(sdk.JobKind.AudioTranscriptions, body, { contentType });
    const sent = fake.requests.at(-1).body;
    assert.equal(sent.kind, "audio_transcriptions");
    assert.equal(sent.content_type, contentType);
    assert.deepEqual(Buffer.from(sent.body_b64, "base64"), bytes);
    assert.equal(sent.body, undefined);
  }
});

test("the core's local checks: ValidationError, and no request sent", async () => {
  const n = fake.requests.length;
  const refused = async (promise, pattern) =>
    assert.rejects(promise, (e) => {
      assert.ok(e instanceof sdk.ValidationError, `${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  await refused(ep.submitJob("teleport", { x: 1 }), /teleport/);
  await refused(ep.submitJob(sdk.JobKind.Chat, Buffer.from("hi"), { contentType: "text/plain" }), /chat|body_b64/);
  await refused(ep.submitJob(sdk.JobKind.Embeddings, undefined), /body/);
  await refused(ep.submitJob(sdk.JobKind.Embeddings, null), /body/);
  await refused(ep.submitJob(sdk.JobKind.AudioTranscriptions, Buffer.from("x")), /content_type|content type/);
  assert.equal(fake.requests.length, n, "nothing was sent");
});

test("a 501 for a kind the platform does not run: APIError with the status", async () => {
  await assert.rejects(ep.submitJob(sdk.JobKind.Forecast, { series: [1, 2, 3] }), (e) => {
    assert.ok(e instanceof sdk.APIError, `${e.name}: ${e.message}`);
    assert.equal(e.statusCode, 501);
    return true;
  });
});

test("a submission that reached the server is not retried (it must never run twice)", async () => {
  const down = new sdk.DataClient({ baseUrl: `${fake.url}/down`, project: "acme", apiKey: LIVE_KEY, maxRetries: 3 });
  const n = fake.requests.length;
  await assert.rejects(down.endpoint("bot").submitJob(sdk.JobKind.Embeddings, { input: "x" }), sdk.APIError);
  assert.equal(fake.requests.length - n, 1);
  down.close();
});

test("an aborted submit rejects with CancelledError", async () => {
  const hang = new sdk.DataClient({ baseUrl: `${fake.url}/hang`, project: "acme", apiKey: LIVE_KEY, maxRetries: 0 });
  await assert.rejects(hang.endpoint("bot").submitJob(sdk.JobKind.Chat, { messages: [] }, { signal: AbortSignal.timeout(100) }), sdk.CancelledError);
  await assert.rejects(hang.endpoint("bot").submitJob(sdk.JobKind.Chat, { messages: [] }, { timeoutMs: 100 }), sdk.APITimeoutError);
  hang.close();
});
