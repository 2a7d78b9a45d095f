// The package's own invariants: generated error classes up to date with the schema; both entry
// points (ESM and CommonJS) share one module instance; the ABI check refuses a mismatch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as esm from "@inferencekey/sdk";
import { ROOT } from "./support.mjs";

const PKG = join(ROOT, "typescript");

test("src/errors.generated.ts matches include/inferencekey.schema.json", () => {
  execFileSync(process.execPath, [join(PKG, "scripts", "gen-errors.mjs"), "--check"], { stdio: "pipe" });
});

test("import and require give the same classes (one module instance)", () => {
  const cjs = createRequire(import.meta.url)("@inferencekey/sdk");
  assert.equal(cjs.ManagementClient, esm.ManagementClient);
  assert.equal(cjs.NotFoundError, esm.NotFoundError);
  assert.deepEqual(Object.keys(cjs).filter((k) => k !== "__esModule").sort(), Object.keys(esm).sort());
});

test("a library of another ABI, or none, is refused with both versions and the path", () => {
  const run = (env) =>
    spawnSync(process.execPath, ["-e", "new (require('@inferencekey/sdk').ManagementClient)({ sdkToken: 'x' })"], {
      cwd: PKG,
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
  const missing = run({ INFERENCEKEY_LIB: "/nonexistent/libinferencekey.so" });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /cannot load the native library at \/nonexistent\/libinferencekey\.so/);
  // libc has no ik_abi_version: loading it as the library must fail clearly, not crash.
  const wrong = run({ INFERENCEKEY_LIB: "libc.so.6" });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /libc\.so\.6 is not the InferenceKey library/);
  // A library of ABI 2 (a stand-in compiled here with the C compiler).
  const dir = mkdtempSync(join(tmpdir(), "ik-abi-"));
  writeFileSync(join(dir, "old.c"), "unsigned int ik_abi_version(void) { return 2; }\n");
  execFileSync("cc", ["-shared", "-fPIC", "-o", join(dir, "libold.so"), join(dir, "old.c")]);
  const old = run({ INFERENCEKEY_LIB: join(dir, "libold.so") });
  assert.notEqual(old.status, 0);
  assert.match(old.stderr, new RegExp(`${join(dir, "libold.so")} implements ABI 2, but this package needs ABI 3`));
  assert.equal(esm.ABI_VERSION, 3);
});
