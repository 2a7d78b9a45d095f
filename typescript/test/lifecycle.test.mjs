// Cancellation, the event loop's keep-alive, and release: AbortSignal cancels in the core
// (< 100 ms, the server sees the connection close); a pending call keeps the process alive and
// a finished one lets it exit; 10k calls leak no handle, buffer or memory. A fake answerer
// (named: canned OpenAI bodies, instant) stands in for the models to make 10k calls quick.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import * as sdk from "@inferencekey/sdk";
import { fakeServer, sendJson, LIVE_KEY } from "./support.mjs";

const CHAT = { id: "c1", object: "chat.completion", created: 1, model: "fake", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
const fake = await fakeServer((req, res) => {
  if (req.path.includes("/hang")) return; // holds the request open
  if (req.path.endsWith("/embeddings")) {
    const input = [req.body.input].flat();
    return sendJson(res, 200, { object: "list", model: "fake", data: input.map((_, i) => ({ object: "embedding", index: i, embedding: Array.from({ length: 8 }, (_, j) => i + j / 8) })), usage: { prompt_tokens: 1, total_tokens: 1 } });
  }
  if (req.body?.stream) {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const chunk = (t) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "fake", choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })}\n\n`;
    res.write(chunk("a"));
    res.write(chunk("b")); // and never ends: the client must close it
    return;
  }
  sendJson(res, 200, CHAT);
});
after(() => fake.close());

const data = new sdk.DataClient({ baseUrl: fake.url, project: "acme", apiKey: LIVE_KEY, maxRetries: 0 });
const ep = data.endpoint("bot");
after(() => (ep.close(), data.close()));

test("AbortSignal cancels a call in flight within 100 ms and the server sees the close", async () => {
  const hang = new sdk.DataClient({ baseUrl: `${fake.url}/hang`, project: "acme", apiKey: LIVE_KEY, maxRetries: 0 });
  const before = fake.state.closed;
  const ac = new AbortController();
  const call = hang.endpoint("bot").generateText({ prompt: "hi", signal: ac.signal });
  await new Promise((r) => setTimeout(r, 100)); // the request reached the server
  const t0 = performance.now();
  ac.abort(new Error("user gave up"));
  await assert.rejects(call, (e) => e instanceof sdk.CancelledError && e.cause?.message === "user gave up");
  const took = performance.now() - t0;
  assert.ok(took < 100, `rejected after ${took.toFixed(1)} ms`);
  for (let i = 0; i < 50 && fake.state.closed === before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(fake.state.closed, before + 1, "the server saw the connection close");
  // An already-aborted signal never starts the call.
  const n = fake.requests.length;
  await assert.rejects(hang.endpoint("bot").generateText({ prompt: "hi", signal: AbortSignal.abort() }), sdk.CancelledError);
  assert.equal(fake.requests.length, n);
  hang.close();
});

test("a stream: break closes it in the core; abort wakes a pending next", async () => {
  const before = fake.state.closed;
  const stream = await ep.generateTextStream({ prompt: "hi" });
  const seen = [];
  for await (const c of stream) {
    seen.push(c.text);
    if (seen.length === 2) break;
  }
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(sdk.liveObjects().handles.ik_stream, 0);
  for (let i = 0; i < 50 && fake.state.closed === before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(fake.state.closed, before + 1, "the server saw the stream close");

  const ac = new AbortController();
  const s2 = await ep.generateTextStream({ prompt: "hi", signal: ac.signal });
  await s2.next();
  await s2.next();
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(s2.next(), sdk.CancelledError); // the third item never comes
  assert.equal(sdk.liveObjects().handles.ik_stream, 0);

  // close() while a next() is pending ends the iteration instead of failing it.
  const s3 = await ep.generateTextStream({ prompt: "hi" });
  await s3.next();
  await s3.next();
  const pending = s3.next();
  s3.close();
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(sdk.liveObjects().handles.ik_stream, 0);
});

// The fake answers from this process, so children run asynchronously.
const child = async (code) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", code], { timeout: 20_000 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    return { status: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

test("a pending call keeps the process alive; a finished one lets it exit", async () => {
  // Nothing but the call itself keeps this process running: no timer, no server.
  const pending = await child(`
    import { DataClient } from "@inferencekey/sdk";
    const ep = new DataClient({ baseUrl: ${JSON.stringify(fake.url)}, project: "acme", apiKey: ${JSON.stringify(LIVE_KEY)} }).endpoint("bot");
    ep.generateText({ prompt: "hi" }).then((r) => console.log("answer:" + r.text));
  `);
  assert.equal(pending.status, 0, pending.stderr);
  assert.match(pending.stdout, /answer:hi/);
  const t0 = Date.now();
  const finished = await child(`
    import { DataClient } from "@inferencekey/sdk";
    const ep = new DataClient({ baseUrl: ${JSON.stringify(fake.url)}, project: "acme", apiKey: ${JSON.stringify(LIVE_KEY)} }).endpoint("bot");
    await ep.generateText({ prompt: "hi" });
    console.log("done");
  `);
  assert.equal(finished.status, 0, finished.stderr);
  assert.ok(Date.now() - t0 < 5000, "exited promptly");
});

test("256 concurrent calls add no native thread (the runtime's workers serve them all)", async () => {
  await ep.generateText({ prompt: "warm" }); // the runtime and delivery threads exist from here
  const threads = () => readdirSync("/proc/self/task").length;
  const before = threads();
  let peak = before;
  const watch = setInterval(() => (peak = Math.max(peak, threads())), 1);
  const results = await Promise.all(Array.from({ length: 256 }, () => ep.generateText({ prompt: "hi" })));
  clearInterval(watch);
  assert.equal(results.length, 256);
  assert.ok(results.every((r) => r.text === "hi"));
  assert.equal(Math.max(peak, threads()), before, `threads: ${before} before, peak ${peak}`);
});

test("no handle or buffer leaks over 10k calls (live-object counts and RSS)", async () => {
  const settle = async () => {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 50)); // FinalizationRegistry callbacks run after GC
  };
  await settle();
  const base = sdk.liveObjects();
  const run = async (n) => {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => ((i + j) % 5 === 0 ? ep.embed({ input: ["a", "b"] }) : ep.generateText({ prompt: "hi" }))));
    }
  };
  await run(2000); // warm-up: pools, allocator arenas, JIT
  await settle();
  const rss0 = process.memoryUsage().rss;
  await run(10_000);
  // Endpoints made and dropped unclosed are freed by the safety net.
  for (let i = 0; i < 200; i++) data.endpoint("bot");
  await settle();
  const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
  const now = sdk.liveObjects();
  assert.equal(now.buffers, base.buffers);
  for (const kind of ["ik_cancel", "ik_error", "ik_stream", "ik_management_client", "ik_data_client"]) assert.equal(now.handles[kind], base.handles[kind], kind);
  if (globalThis.gc) assert.equal(now.handles.ik_endpoint, base.handles.ik_endpoint, "dropped endpoints freed by the FinalizationRegistry");
  assert.ok(grown < 40, `RSS grew ${grown.toFixed(1)} MiB over 10k calls`);
});
