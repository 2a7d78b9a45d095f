// Every case of tests/conformance/ensure.json replayed through the public API against a fake
// control plane that the vectors define (their README), each case its own test; the dry_run
// cases once more through plan(). Then every redaction vector through redactText and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sdk from "@inferencekey/sdk";
import { camelSpec, fakeServer, jsonEqual, readJson, sendJson, SDK_TOKEN } from "./support.mjs";

const vectors = readJson("tests/conformance/ensure.json");
assert.equal(vectors.version, 1);

// The vectors name the Python classes; these are their TypeScript names.
const CLASS = {
  ValidationError: sdk.ValidationError,
  DriftError: sdk.DriftError,
  ConfigurationError: sdk.ConfigurationError,
  NotFoundError: sdk.NotFoundError,
  ConflictError: sdk.ConflictError,
};

async function replay(c, call) {
  const failures = [];
  let n = 0;
  const server = await fakeServer((req, res) => {
    const ex = c.exchanges[n++];
    if (!ex) {
      failures.push(`request beyond the script: ${req.method} ${req.path}`);
      return sendJson(res, 500, { error: { code: "script_ended", message: "unexpected request" } });
    }
    if (req.method !== ex.request.method || req.path !== ex.request.path)
      failures.push(`request ${n}: ${req.method} ${req.path}, expected ${ex.request.method} ${ex.request.path}`);
    if (!jsonEqual(req.body, ex.request.body))
      failures.push(`request ${n} body: ${JSON.stringify(req.body)}, expected ${JSON.stringify(ex.request.body)}`);
    sendJson(res, ex.response.status, ex.response.body);
  });
  const warnings = [];
  const onWarning = (w) => w.name === "DriftWarning" && warnings.push(w);
  process.on("warning", onWarning);
  const mgmt = new sdk.ManagementClient({ baseUrl: server.url, project: c.project, sdkToken: SDK_TOKEN });
  let result, error;
  try {
    result = await call(mgmt, camelSpec(c.spec));
  } catch (e) {
    error = e;
  } finally {
    mgmt.close();
    await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
    process.off("warning", onWarning);
    await server.close();
  }
  return { result, error, failures, used: n, warnings };
}

function check(c, { result, error, failures, used, warnings }, viaPlan) {
  assert.deepEqual(failures, []);
  assert.equal(used, c.exchanges.length, "every exchange used");
  const ex = c.expect;
  if (ex.error) {
    assert.ok(error, `expected ${ex.error.class}, got ${JSON.stringify(result)}`);
    assert.ok(error instanceof sdk.InferenceKeyError);
    assert.equal(error.constructor, CLASS[ex.error.class], `${error.name}: ${error.message}`);
    if (ex.error.code !== null) assert.equal(error.code, ex.error.code);
    if (ex.changes !== null) assert.ok(jsonEqual(error.changes, ex.changes), JSON.stringify(error.changes));
    return;
  }
  assert.equal(error, undefined, error && `${error.name}: ${error.message}`);
  assert.equal(result.action, ex.action);
  assert.equal(result.workloadSlug, ex.workload_slug);
  if (ex.action === "planned") assert.equal(result.plannedOperation, ex.planned_operation);
  if (ex.changes !== null) assert.ok(jsonEqual(result.changes, ex.changes), JSON.stringify(result.changes));
  if (!viaPlan) assert.equal(warnings.length > 0, ex.warning, "DriftWarning emitted");
}

for (const c of vectors.cases) {
  test(`ensure: ${c.name}`, async () => {
    check(c, await replay(c, (m, spec) => m.ensure(spec, { onDrift: c.on_drift })), false);
  });
  if (c.on_drift === "dry_run") {
    test(`plan: ${c.name}`, async () => {
      check(c, await replay(c, (m, spec) => m.plan(spec)), true);
    });
  }
}

const redaction = readJson("tests/conformance/redaction.json");
for (const c of redaction.cases) {
  test(`redaction: ${c.name}`, () => {
    assert.equal(sdk.redactText(c.input), c.output);
    const e = new sdk.APIError(c.input, { requestId: c.input });
    assert.equal(e.message, c.output);
    assert.equal(e.requestId, c.output);
  });
}
