// Shared by the tests: the repository's files, a scripted fake HTTP server for faults a real
// server cannot produce (named as such), and JSON equality by value.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const readJson = (rel) => JSON.parse(readFileSync(join(ROOT, rel), "utf8"));

/** A well-formed control token for fakes (never valid anywhere). */
export const SDK_TOKEN = "ik_sdk_1a2b3c4d_" + "0".repeat(64);
export const LIVE_KEY = "ik_live_5e6f7a8b_" + "1".repeat(64);

/**
 * A fake server on a free loopback port. `handler(req, body, res)` answers each request;
 * `requests` records method, path and body; `closed` counts requests whose client went away.
 */
export async function fakeServer(handler) {
  const requests = [];
  const state = { closed: 0 };
  const sockets = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const entry = { method: req.method, path: req.url.split("?")[0], body: text ? JSON.parse(text) : null, headers: req.headers };
      requests.push(entry);
      res.on("close", () => {
        if (!res.writableFinished) state.closed++;
      });
      handler(entry, res);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    state,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** JSON values equal: object key order ignored, array order kept, numbers by value. */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (typeof a === "object") {
    if (Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** snake_case vector keys to the camelCase fields of `WorkloadSpec` (values untouched). */
export function camelSpec(spec) {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]));
}
