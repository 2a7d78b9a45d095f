// The statuses no public call can produce (a binding bug's, or the core's own bug's) still
// reach their generated classes through the binding's one error path: each is provoked in the
// native library directly, as only a faulty binding would, and decoded by errorFromNative.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import koffi from "koffi";
import * as sdk from "@inferencekey/sdk";

const require = createRequire(import.meta.url);
const { native, libraryPath } = require("../dist/cjs/native.js");
const { errorFromNative } = require("../dist/cjs/errors.js");

const lib = native();
const testOnly = koffi.load(libraryPath());
const forcePanic = testOnly.func("int32_t ik_test_force_panic(_Out_ void **err)");

/** Runs an export taking `(…, out, len, err)`; returns the error it made, decoded. */
function failure(fn, ...args) {
  const out = [null];
  const len = [0];
  const err = [null];
  const status = fn(...args, out, len, err);
  assert.notEqual(status, 0, "the call was expected to fail");
  assert.equal(out[0], null, "nothing written on failure");
  return errorFromNative(status, err[0]);
}

function expect(error, cls, code) {
  assert.ok(error instanceof sdk.InferenceKeyError, String(error));
  assert.equal(error.constructor, cls, `${error.name}: ${error.message}`);
  if (code !== undefined) assert.equal(error.code, code);
}

test("NULL handle: NullArgumentError (null_argument)", () => {
  expect(failure(lib.ik_endpoint_describe, null), sdk.NullArgumentError, "null_argument");
});

test("freed and other-kind handles: InvalidHandleError (invalid_handle), whose message says which", () => {
  const cancel = lib.ik_cancel_new();
  const wrongKind = failure(lib.ik_endpoint_describe, cancel);
  expect(wrongKind, sdk.InvalidHandleError, "invalid_handle");
  assert.match(wrongKind.message, /ik_cancel/);
  lib.ik_cancel_free(cancel);
  expect(failure(lib.ik_endpoint_describe, cancel), sdk.InvalidHandleError, "invalid_handle");
});

test("bytes that are not UTF-8: InvalidUtf8Error", () => {
  const bad = Buffer.from([0x61, 0xff, 0xfe, 0x62]);
  expect(failure(lib.ik_text_redact, bad, bad.length), sdk.InvalidUtf8Error);
});

test("a NUL inside a text argument: InvalidArgumentError (interior_nul)", () => {
  const text = Buffer.from("a\0b");
  expect(failure(lib.ik_text_redact, text, text.length), sdk.InvalidArgumentError, "interior_nul");
});

test("a panic caught at the boundary: InternalPanicError", () => {
  const err = [null];
  const status = forcePanic(err);
  expect(errorFromNative(status, err[0]), sdk.InternalPanicError, "internal_panic");
});

test("a status this package does not know: UnknownError, not a bare InferenceKeyError", () => {
  expect(errorFromNative(9999, null), sdk.UnknownError);
});
