// Secret redaction: the core's rules (ik_text_redact / ik_token_redact), never a pattern here.
import { byteLength, callForText, native } from "./native.js";

/** Replaces every `ik_sdk_…` / `ik_live_…` token and `whsec_…` secret in free text by its display form. */
export function redactText(text: string): string {
  if (!text.includes("ik_") && !text.includes("whsec_")) return text; // no secret without: spare the native call
  const lib = native();
  if (text.includes("\0")) return text.split("\0").map(redactText).join("\0");
  const r = callForText(lib.ik_text_redact, text, byteLength(text));
  if (r.err !== null) lib.ik_error_free(r.err);
  return r.status === 0 ? r.text : "<redacted>";
}

/** The display form of one token: `ik_sdk_1a2b3c4d…`, `ik_sdk_…`, or `<redacted>`. */
export function redactToken(token: string): string {
  const lib = native();
  if (token.includes("\0")) return "<redacted>";
  const r = callForText(lib.ik_token_redact, token, byteLength(token));
  if (r.err !== null) lib.ik_error_free(r.err);
  return r.status === 0 ? r.text : "<redacted>";
}
