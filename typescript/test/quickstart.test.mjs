// The seed's quickstart, in TypeScript's API, against the real local platform (the library's
// embedded dev server) with real CPU models: ensure, wait, generateText, stream, embed, rerank.
// On real models only stable things are asserted (non-empty text, finish reason, sizes, ranks).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ManagementClient, DataClient, Backend, OnDrift, EnsureAction, TaskType, liveObjects } from "@inferencekey/sdk";
import { DevServer } from "@inferencekey/sdk/testing";

let dev, creds;
before(() => {
  assert.ok(process.env.INFERENCEKEY_DEV_PYTHON, "INFERENCEKEY_DEV_PYTHON must name the venv with the model backends");
  dev = new DevServer();
  creds = dev.createProject("acme");
  process.env.INFERENCEKEY_BASE_URL = dev.baseUrl;
  process.env.INFERENCEKEY_SDK_TOKEN = creds.sdkToken;
  process.env.INFERENCEKEY_API_KEY = creds.apiKey;
});
after(() => dev?.stop());

const CHAT = { name: "support-bot", slug: "support-bot", model: "meta-llama/Llama-3.1-8B-Instruct", backend: Backend.Vllm,
  command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192" };

// Node 20 has no `await using` syntax yet (TypeScript compiles it down; see test/types); the
// tests call Symbol.asyncDispose as that statement would.
const disposables = [];
const using = (x) => (disposables.push(x), x);
after(async () => {
  for (const x of disposables.reverse()) await x[Symbol.asyncDispose]();
});

test("quickstart: ensure, wait, generate, stream", async () => {
  const mgmt = using(ManagementClient.fromEnv({ project: "acme" }));
  const ref = await mgmt.ensure(CHAT);
  assert.equal(ref.action, EnsureAction.Created);
  const phases = [];
  const ready = await mgmt.waitUntilReady(ref.workloadSlug, { timeoutMs: 120_000, onProgress: (e) => phases.push(e.phase) });
  assert.equal(ready.phase, "ready");
  assert.equal(phases.at(-1), "ready");
  assert.equal((await mgmt.ensure(CHAT, { onDrift: OnDrift.Fail })).action, EnsureAction.Unchanged);
  assert.equal((await mgmt.get(ref.workloadSlug)).phase, "ready");
  assert.ok((await mgmt.list()).some((w) => w.slug === ref.workloadSlug));

  const data = using(DataClient.fromEnv({ project: "acme" }));
  const ep = using(data.endpoint(ref.workloadSlug, { apiKey: process.env.INFERENCEKEY_API_KEY }));
  const out = await ep.generateText({ prompt: "Hola", temperature: 0.2, maxTokens: 24 });
  assert.ok(out.text.length > 0);
  assert.equal(typeof out.model, "string");
  assert.ok(["stop", "length"].includes(out.finishReason), out.finishReason);
  assert.ok(out.usage.completionTokens > 0);
  assert.ok(Array.isArray(out.raw.choices));

  const chat = await ep.generateText({ messages: [{ role: "user", content: "Say hi" }], maxTokens: 8 });
  assert.ok(chat.text.length > 0);

  let text = "";
  const stream = await ep.generateTextStream({ prompt: "Count to ten", maxTokens: 24 });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.text;
  }
  assert.ok(text.length > 0 && chunks.length > 1);
  assert.ok(chunks.some((c) => c.finishReason !== null));
  assert.ok(stream.requestId);

  // Leaving the loop early closes the stream in the core.
  const early = await ep.generateTextStream({ prompt: "Write a long story", maxTokens: 200 });
  for await (const _ of early) break;
  assert.equal(liveObjects().handles.ik_stream, 0);
});

test("quickstart: embed and rerank on their CPU stand-ins", async () => {
  const mgmt = using(ManagementClient.fromEnv({ project: "acme" }));
  const emb = await mgmt.ensure({ name: "embedder", slug: "embedder", model: "intfloat/multilingual-e5-small", backend: "vllm", taskType: TaskType.Embedding });
  const rr = await mgmt.ensure({ name: "ranker", slug: "ranker", model: "BAAI/bge-reranker-base", backend: "vllm", taskType: TaskType.Reranker });
  await Promise.all([mgmt.waitUntilReady(emb.workloadSlug, { timeoutMs: 120_000 }), mgmt.waitUntilReady(rr.workloadSlug, { timeoutMs: 120_000 })]);
  const data = using(DataClient.fromEnv({ project: "acme" }));

  const e = await data.endpoint("embedder").embed({ input: ["a cat", "a dog", "stock markets"] });
  assert.equal(e.embeddings.length, 3);
  assert.equal(e.embeddings[0].length, 384);
  assert.ok(e.embeddings[0] instanceof Float64Array);
  assert.equal(e.lists[2].length, 384);
  assert.ok(e.embeddings.every((v) => v.every(Number.isFinite)));

  const r = await data.endpoint("ranker").rerank({ query: "feline pets", documents: ["stock markets fell", "cats are felines", "rain tomorrow"] });
  assert.equal(r.results.length, 3);
  assert.equal(r.results[0].index, 1, JSON.stringify(r.results));
  assert.ok(r.results[0].relevanceScore >= r.results[1].relevanceScore);
});
