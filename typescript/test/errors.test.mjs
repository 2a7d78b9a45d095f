// Every error class of the generated table, reached through the public API where a caller can
// reach it: a fake server (named: it injects statuses and faults on demand) and local checks.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import * as sdk from "@inferencekey/sdk";
import { fakeServer, readJson, sendJson, SDK_TOKEN, LIVE_KEY } from "./support.mjs";

// The fake answers by path: /status/<code> in the project name picks the status.
const fake = await fakeServer((req, res) => {
  const m = req.path.match(/^\/api\/projects\/s(\d{3})\//) ?? req.path.match(/^\/endpoint\/s(\d{3})\//);
  if (req.path.includes("/readiness-events")) {
    const slug = req.path.split("/")[5];
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (slug === "fails") {
      res.end('data: {"phase":"error","message":"process exited with status 1","elapsed_ms":5,"log_tail":"boom ik_sdk_1a2b3c4d_' + "9".repeat(64) + '\\n"}\n\n');
    } else {
      res.write('data: {"phase":"bootstrapping","message":"loading","elapsed_ms":1}\n\n'); // then nothing: never ready
    }
    return;
  }
  if (req.path.startsWith("/hang")) return; // never answers
  if (req.path.startsWith("/garbage")) {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end("{not json");
  }
  if (req.path.startsWith("/cut")) {
    res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
    res.write('{"choices":[');
    return res.destroy(); // closes mid-body
  }
  if (m) {
    const status = Number(m[1]);
    const headers = status === 429 ? { "retry-after": "7" } : {};
    return sendJson(res, status, { error: { code: `x_${status}`, message: `injected ${status}` } }, { "x-request-id": "req_fake_1", ...headers });
  }
  if (req.path.endsWith("/workloads")) return sendJson(res, 200, []);
  sendJson(res, 404, { error: { code: "not_found", message: "no route" } });
});
after(() => fake.close());

const mgmt = (project, extra = {}) => new sdk.ManagementClient({ baseUrl: fake.url, project, sdkToken: SDK_TOKEN, maxRetries: 0, ...extra });
const endpoint = (project, extra = {}) =>
  new sdk.DataClient({ baseUrl: fake.url, project, apiKey: LIVE_KEY, maxRetries: 0, ...extra }).endpoint("bot");
const reached = new Set();

async function expectError(promise, cls, check = () => {}) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof sdk.InferenceKeyError, `not an InferenceKeyError: ${e}`);
    assert.equal(e.constructor, cls, `${e.name}: ${e.message}`);
    check(e);
    reached.add(cls);
    return true;
  });
}

test("HTTP statuses map to their classes with code, statusCode and requestId", async () => {
  const cases = [
    [401, sdk.AuthenticationError],
    [403, sdk.PermissionDenied],
    [404, sdk.NotFoundError],
    [409, sdk.ConflictError],
    [418, sdk.APIError],
    [422, sdk.ValidationError],
    [429, sdk.RateLimitError],
    [500, sdk.InternalServerError],
  ];
  for (const [status, cls] of cases) {
    await expectError(mgmt(`s${status}`).list(), cls, (e) => {
      assert.equal(e.statusCode, status);
      assert.equal(e.requestId, "req_fake_1");
      assert.equal(typeof e.code, "string");
      if (status === 429) assert.equal(e.details.retryAfter, 7);
    });
  }
  // The data plane maps the same way.
  await expectError(endpoint("s403").generateText({ prompt: "hi" }), sdk.PermissionDenied);
});

test("local checks: ConfigurationError, ValidationError, InvalidJsonError, before any request", async () => {
  assert.throws(() => new sdk.ManagementClient({ baseUrl: fake.url, project: "acme" }), (e) => {
    assert.ok(e instanceof sdk.ConfigurationError);
    assert.equal(e.code, "missing_token");
    reached.add(sdk.ConfigurationError);
    return true;
  });
  await expectError(mgmt("acme").ensure({ name: "x", slug: "Not A Slug", model: "m", backend: "vllm" }), sdk.ValidationError);
  assert.equal(fake.requests.filter((r) => r.path.includes("Not")).length, 0, "nothing sent");
  // A JavaScript caller passing a field the API does not have: refused by the core's schema.
  await expectError(endpoint("acme").generateText({ prompt: "hi", bogusField: 1 }), sdk.InvalidJsonError);
  // A string with a NUL byte where the core needs a C string.
  assert.throws(() => new sdk.DataClient({ baseUrl: fake.url, project: "acme", apiKey: LIVE_KEY }).endpoint("bot", { apiKey: "ik_live_\0x" }), (e) => {
    assert.ok(e instanceof sdk.InferenceKeyError, String(e));
    reached.add(e.constructor);
    return true;
  });
});

test("DriftError carries the drifted fields", async () => {
  const vectors = readJson("tests/conformance/ensure.json").cases;
  const c = vectors.find((v) => v.expect.error?.class === "DriftError");
  let i = 0;
  const server = await fakeServer((_req, res) => {
    const ex = c.exchanges[i++];
    sendJson(res, ex.response.status, ex.response.body);
  });
  const client = new sdk.ManagementClient({ baseUrl: server.url, project: c.project, sdkToken: SDK_TOKEN });
  const spec = Object.fromEntries(Object.entries(c.spec).map(([k, v]) => [k.replace(/_([a-z])/g, (_, x) => x.toUpperCase()), v]));
  await expectError(client.ensure(spec, { onDrift: "fail" }), sdk.DriftError, (e) => {
    assert.ok(e instanceof sdk.ValidationError);
    assert.ok(Array.isArray(e.changes) && e.changes.length > 0);
  });
  client.close();
  await server.close();
});

test("connection, timeout and cancellation", async () => {
  await expectError(
    new sdk.ManagementClient({ baseUrl: "http://127.0.0.1:9", project: "acme", sdkToken: SDK_TOKEN, maxRetries: 0 }).list(),
    sdk.APIConnectionError,
  );
  const hanging = new sdk.DataClient({ baseUrl: `${fake.url}/hang`, project: "acme", apiKey: LIVE_KEY, maxRetries: 0 });
  await expectError(hanging.endpoint("bot").generateText({ prompt: "hi", timeoutMs: 200 }), sdk.APITimeoutError, (e) => {
    assert.ok(e instanceof sdk.APIConnectionError);
  });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await expectError(hanging.endpoint("bot").generateText({ prompt: "hi", signal: ac.signal }), sdk.CancelledError);
});

test("a hostile server: a malformed body, a connection cut mid-body", async () => {
  const on = (prefix) => new sdk.DataClient({ baseUrl: `${fake.url}/${prefix}`, project: "acme", apiKey: LIVE_KEY, maxRetries: 0 }).endpoint("bot");
  await expectError(on("garbage").generateText({ prompt: "hi" }), sdk.APIError, (e) => assert.equal(e.statusCode, 200));
  await expectError(on("cut").generateText({ prompt: "hi" }), sdk.APIConnectionError);
  await expectError(on("cut").embed({ input: ["x"] }), sdk.APIConnectionError);
});

test("huge and malformed input: a clear typed error or a normal call, nothing lost", async () => {
  // 8 MiB of prompt reaches the server intact.
  const big = "x".repeat(8 * 2 ** 20);
  const n = fake.requests.length;
  await expectError(endpoint("s404").generateText({ prompt: big }), sdk.NotFoundError);
  assert.equal(fake.requests.at(-1).body.messages?.[0]?.content ?? fake.requests.at(-1).body.prompt, big);
  assert.equal(fake.requests.length, n + 1);
  // Lone surrogates cannot be UTF-8: refused locally or sent replaced, never a crash.
  await assert.rejects(endpoint("s404").generateText({ prompt: "\ud800" }), sdk.InferenceKeyError);
  await expectError(endpoint("acme").generateText({ prompt: "" }), sdk.ValidationError, (e) => assert.match(e.message, /prompt/));
  await expectError(endpoint("acme").rerank({ query: "q", documents: [] }), sdk.ValidationError, (e) => assert.match(e.message, /documents/));
});

test("readiness: ReadinessError with log tail (redacted), ReadinessTimeoutError, progress events", async () => {
  const events = [];
  await expectError(mgmt("acme").waitUntilReady("fails", { onProgress: (e) => events.push(e) }), sdk.ReadinessError, (e) => {
    assert.ok(e.details.lastEvent || e.details.logTail, JSON.stringify(e.details));
    assert.ok(!JSON.stringify(e.details).includes("9".repeat(20)), "token in log tail redacted");
  });
  assert.equal(events.at(-1).phase, "error");
  await expectError(mgmt("acme").waitUntilReady("slow", { timeoutMs: 300 }), sdk.ReadinessTimeoutError, (e) => {
    assert.ok(e instanceof sdk.APITimeoutError);
  });
  const seen = [];
  await assert.rejects(
    mgmt("acme").waitUntilReady("slow", { signal: AbortSignal.timeout(300), onProgress: (e) => seen.push(e.phase) }),
    sdk.CancelledError,
  );
  assert.deepEqual(seen, ["bootstrapping"]);
});

test("a closed client, endpoint or stream throws InvalidStateError (client_closed); double close is harmless", async () => {
  const m = mgmt("acme");
  m.close();
  m.close();
  await expectError(m.list(), sdk.InvalidStateError, (e) => assert.equal(e.code, "client_closed"));
  const data = new sdk.DataClient({ baseUrl: fake.url, project: "acme", apiKey: LIVE_KEY });
  const ep = data.endpoint("bot");
  data.close();
  assert.throws(() => data.endpoint("bot"), sdk.InvalidStateError);
  ep.close();
  await expectError(ep.embed({ input: "x" }), sdk.InvalidStateError);
  assert.equal(inspect(ep), "Endpoint <closed>");
});

test("withOptions: a derived client with its own retries and headers, sharing the rest", async () => {
  const parent = new sdk.ManagementClient({ baseUrl: fake.url, project: "s503", sdkToken: SDK_TOKEN, maxRetries: 1 });
  const child = parent.withOptions({ maxRetries: 0, defaultHeaders: { "x-team": "search" } });
  const count = () => fake.requests.filter((r) => r.path.startsWith("/api/projects/s503/")).length;
  let n = count();
  await expectError(child.list(), sdk.InternalServerError);
  assert.equal(count() - n, 1, "no retry");
  assert.equal(fake.requests.at(-1).headers["x-team"], "search");
  n = count();
  await expectError(parent.list(), sdk.InternalServerError);
  assert.equal(count() - n, 2, "one retry");
  assert.equal(fake.requests.at(-1).headers["x-team"], undefined);
  parent.close();
  await expectError(child.list(), sdk.InternalServerError); // its own handle: still usable
  child.close();
  const data = new sdk.DataClient({ baseUrl: fake.url, project: "s503", apiKey: LIVE_KEY }).withOptions({ maxRetries: 0 });
  n = fake.requests.length;
  await expectError(data.endpoint("bot").generateText({ prompt: "hi" }), sdk.InternalServerError);
  assert.equal(fake.requests.length - n, 1);
  assert.throws(() => parent.withOptions({ maxRetries: 1 }), sdk.InvalidStateError);
  assert.throws(() => data.withOptions({ maxRetries: 99 }), sdk.ConfigurationError);
});

test("util.inspect of clients and endpoints shows no secret", () => {
  const secret = "9f".repeat(32);
  const m = new sdk.ManagementClient({ baseUrl: fake.url, project: "acme", sdkToken: `ik_sdk_1a2b3c4d_${secret}` });
  const d = new sdk.DataClient({ baseUrl: fake.url, project: "acme", apiKey: `ik_live_5e6f7a8b_${secret}` });
  const e = d.endpoint("bot");
  for (const text of [inspect(m), inspect(d), inspect(e), inspect(m, { showHidden: true, depth: 9 }), JSON.stringify(m)]) {
    assert.ok(!text.includes(secret), text);
  }
  assert.match(inspect(m), /ik_sdk_1a2b3c4d…/);
  assert.match(inspect(e), /ik_live_5e6f7a8b…/);
  e.close();
  d.close();
  m.close();
});

test("a webhook delivery that does not verify: WebhookSignatureError (webhooks.test.mjs has the cases)", () => {
  const body = Buffer.from('{"event":"ping","ts":1}');
  assert.throws(() => sdk.verifyWebhook(body, { "X-InferenceKey-Signature": `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` }, "whsec_x"), (e) => {
    assert.equal(e.constructor, sdk.WebhookSignatureError);
    assert.equal(e.code, "webhook_signature_mismatch");
    reached.add(e.constructor);
    return true;
  });
});

test("every ABI status has a generated class under InferenceKeyError, and every reachable one was reached", () => {
  const schema = readJson("include/inferencekey.schema.json");
  for (const s of schema["x-ik-statuses"].filter((x) => x.value !== 0)) {
    const cls = sdk.ERROR_CLASSES.get(s.value);
    assert.ok(cls, s.name);
    assert.equal(cls.abiStatus, s.value);
    const err = new cls("msg");
    assert.ok(err instanceof sdk.InferenceKeyError && err instanceof Error);
    assert.equal(err.name, cls.name);
  }
  // Binding-bug statuses (NULL pointer, bad UTF-8, foreign handle, panic, unknown) cannot be
  // caused through this API by design (abi-statuses.test.mjs provokes them in the library
  // directly); all others must have been reached above.
  const unreachable = new Set([sdk.NullArgumentError, sdk.InvalidUtf8Error, sdk.InvalidHandleError, sdk.InternalPanicError, sdk.UnknownError, sdk.InvalidArgumentError]);
  const missing = [...sdk.ERROR_CLASSES.values()].filter((c) => !unreachable.has(c) && !reached.has(c)).map((c) => c.name);
  assert.deepEqual(missing, []);
});
