// Verifying webhook deliveries of async jobs: marshalling only; the header parsing, the
// constant-time HMAC comparison and the tolerance are the core's (ik_webhook_verify).
import { ValidationError } from "./errors.generated.js";
import { errorFromNative } from "./errors.js";
import { byteLength, callForText, native } from "./native.js";
import type { VerifyOptions, WebhookEvent } from "./types.js";
import { OPAQUE, asBytes, camelKeys } from "./wire.js";

/** A request's headers: fetch `Headers`, Node's `req.headers`, or `[name, value]` pairs (a `Map` too). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined> | Iterable<readonly [string, string]>;

// User data and route responses keep their keys exactly as sent.
const EVENT_OPAQUE: ReadonlySet<string> = new Set([...OPAQUE, "context", "output", "payload"]);

/**
 * Verifies one webhook delivery and returns its event, typed.
 *
 * `payload` is the raw request body exactly as received (Express `express.raw()`, Fastify's
 * raw body, `await request.arrayBuffer()` of a fetch-style handler); a string is taken as its
 * UTF-8 bytes. A parsed and re-serialised body has other
 * bytes and fails. Header names are matched case-insensitively; of several `v1` signatures
 * any match is accepted. Throws `WebhookSignatureError` when the delivery does not verify
 * (`code`: `webhook_header_malformed`, `webhook_signature_mismatch`,
 * `webhook_timestamp_out_of_tolerance`, `webhook_payload_invalid`), `ValidationError` for an
 * empty secret or a payload that is not bytes or text.
 *
 * Synchronous, the one documented exception to "async forms only": it does no I/O and needs
 * no runtime (a hash over the body), so a Promise would only add a tick to every delivery.
 */
export function verifyWebhook(payload: Uint8Array | ArrayBuffer | string, headers: WebhookHeaders, secret: string, options: VerifyOptions = {}): WebhookEvent {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : asBytes(payload);
  if (body === undefined) {
    throw new ValidationError(`payload must be the raw request body (Buffer, Uint8Array, ArrayBuffer or string), not ${describe(payload)}: verify before parsing`, {
      code: "invalid_argument",
      details: { field: "payload" },
    });
  }
  const req = JSON.stringify({ headers: headerPairs(headers), secret, tolerance_s: options.toleranceSec });
  const lib = native();
  const r = callForText(lib.ik_webhook_verify, body.length === 0 ? null : body, body.length, req, byteLength(req));
  if (r.status !== 0) throw errorFromNative(r.status, r.err);
  const event = camelKeys(JSON.parse(r.text), EVENT_OPAQUE) as WebhookEvent;
  return { ...event, jobId: event.jobId ?? null, context: event.context ?? null, data: event.data ?? null };
}

/** `[name, value]` pairs, repeats kept; values of other types go to the core, which refuses them by name. */
function headerPairs(headers: WebhookHeaders): unknown {
  if (headers === null || typeof headers !== "object") return headers;
  if (Symbol.iterator in headers) return Array.from(headers as Iterable<readonly [string, string]>, (pair) => (Array.isArray(pair) ? [...pair] : pair));
  const pairs: unknown[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
    else pairs.push([name, value]);
  }
  return pairs;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}
