// @inferencekey/sdk per call, embed 256x384 and 256 concurrent calls, against openai-node and a
// raw node:http keep-alive floor, all on benches/run.sh's answerer (nginx with canned bodies).
// Ratios of one run, interleaved loops, written as table.py rows:
//
//   node bench.mjs --base http://127.0.0.1:PORT --rows rows-ts.json [--budget 3] [--calls 2000]
//
// A benchmark, not a test: trust its numbers only with `uptime` load < 0.5.
import { writeFileSync, readdirSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { DataClient } from "@inferencekey/sdk";

const { values: args } = parseArgs({
  options: {
    base: { type: "string" },
    rows: { type: "string" },
    budget: { type: "string", default: "3" },
    calls: { type: "string", default: "2000" },
  },
});
if (!args.base) throw new Error("--base http://127.0.0.1:PORT (benches/run.sh --serve prints it)");
const BASE = args.base;
const BUDGET_MS = Number(args.budget) * 1000;
const CALLS = Number(args.calls);
const KEY = "ik_live_1a2b3c4d_" + "0".repeat(64);
const CHAT_PATH = "/endpoint/acme/bench/v1/chat/completions";
const TEXTS = Array.from({ length: 256 }, (_, i) => `input number ${i}: a sentence of realistic length for an embedding model to read`);

// ---- the three clients ---------------------------------------------------------------------
const data = new DataClient({ baseUrl: BASE, project: "acme", apiKey: KEY });
const ep = data.endpoint("bench");
const openai = new OpenAI({ baseURL: `${BASE}/endpoint/acme/bench/v1`, apiKey: KEY, maxRetries: 0 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const url = new URL(BASE);

function rawPost(path, body) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: "POST", agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text), authorization: `Bearer ${KEY}` } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

const chat = {
  ours: () => ep.generateText({ prompt: "Hola", maxTokens: 16 }),
  "openai-node": () => openai.chat.completions.create({ model: "bench", messages: [{ role: "user", content: "Hola" }], max_tokens: 16 }),
  "raw http floor": () => rawPost(CHAT_PATH, { model: "bench", messages: [{ role: "user", content: "Hola" }], max_tokens: 16 }),
};
const embed = {
  ours: () => ep.embed({ input: TEXTS }),
  // The canned answer is float lists; openai-node would otherwise ask for base64.
  "openai-node": () => openai.embeddings.create({ model: "bench", input: TEXTS, encoding_format: "float" }),
};

// ---- timing --------------------------------------------------------------------------------
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Interleaves the clients call by call, so drift in the machine's load hits all alike. */
async function perCall(clients, count, budgetMs) {
  const names = Object.keys(clients);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) for (let i = 0; i < 50; i++) await clients[n](); // warm-up
  const end = performance.now() + budgetMs * names.length;
  for (let i = 0; i < count && performance.now() < end; i++) {
    for (const n of names) {
      const t0 = performance.now();
      await clients[n]();
      samples[n].push((performance.now() - t0) * 1000);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

const threads = () => readdirSync("/proc/self/task").length;

async function concurrent(fn, n) {
  const t0 = performance.now();
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, threads())), 1);
  await Promise.all(Array.from({ length: n }, fn));
  clearInterval(watch);
  return { us: (performance.now() - t0) * 1000, peak: Math.max(peak, threads()) };
}

// ---- run -----------------------------------------------------------------------------------
const rows = [];
const row = (path, peer, ours, peerValue, goal, unit = "us") =>
  rows.push({ path, ours, peer, peer_value: peerValue, ratio: ours / peerValue, goal, unit });

const before = threads();
const call = await perCall(chat, CALLS, BUDGET_MS);
console.log("per call (median, us):", call);
row("ts: generateText per call", "openai-node", call.ours, call["openai-node"], "<= 0.5");
row("ts: generateText per call", "raw http floor", call.ours, call["raw http floor"], "<= 1.5");

const emb = await perCall(embed, 200, BUDGET_MS);
console.log("embed 256x384 (median, us):", emb);
row("ts: embed 256x384", "openai-node", emb.ours, emb["openai-node"], "<= 0.5");

// The library's threads (2 runtime workers + 1 delivery thread) start with the first call.
const afterCalls = threads();
const ours256 = [], peer256 = [];
for (let i = 0; i < 5; i++) {
  ours256.push(await concurrent(chat.ours, 256));
  peer256.push(await concurrent(chat["openai-node"], 256));
}
const oursPeak = Math.max(...ours256.map((r) => r.peak));
console.log(`256 concurrent: ours ${median(ours256.map((r) => r.us)).toFixed(0)} us, openai-node ${median(peer256.map((r) => r.us)).toFixed(0)} us; threads ${before} before any call, ${afterCalls} after, peak ${oursPeak} during ours`);
row("ts: 256 concurrent generateText", "openai-node", median(ours256.map((r) => r.us)), median(peer256.map((r) => r.us)), "<= 0.5");
// No thread per request: the peak during 256 concurrent calls is the count after the first
// calls (runtime workers + delivery thread already started), not more.
rows.push({ path: "ts: native threads added by 256 concurrent", ours: oursPeak, peer: "threads before", peer_value: afterCalls, difference: oursPeak - afterCalls, goal: "<= 0", unit: "threads" });

if (args.rows) writeFileSync(args.rows, JSON.stringify(rows, null, 1));
for (const r of rows) console.log(`${r.path} vs ${r.peer}: ${"difference" in r ? r.difference + " " + r.unit : r.ratio.toFixed(2) + "x"} (goal ${r.goal})`);
ep.close();
data.close();
agent.destroy();
