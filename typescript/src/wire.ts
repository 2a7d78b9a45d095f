// snake_case wire JSON <-> camelCase TypeScript objects, at the boundary only.

const toCamel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Deep-renames object keys to camelCase, except below keys in `opaque` (user data such as a
 * workload's `config`, kept exactly as sent).
 */
export function camelKeys(value: unknown, opaque: ReadonlySet<string> = OPAQUE): unknown {
  if (Array.isArray(value)) return value.map((v) => camelKeys(v, opaque));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[toCamel(k)] = opaque.has(k) ? v : camelKeys(v, opaque);
  return out;
}

/** Shallow-renames the keys of a request object to snake_case, dropping `undefined` values. */
export function snakeKeys(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[toSnake(k)] = v;
  return out;
}

/** Keys whose values are user data, never renamed. */
export const OPAQUE: ReadonlySet<string> = new Set([
  "config",
  "execution_policy_config",
  "raw",
  "live",
  "desired",
  "extra_body",
  "headers",
  "default_headers",
]);

/** The bytes of a binary value (any typed array or DataView, or an ArrayBuffer), else undefined. */
export function asBytes(value: unknown): Uint8Array | undefined {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return undefined;
}
