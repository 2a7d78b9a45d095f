// Result objects built from result buffers: JSON fields, plus binary parts copied out once.
import { type Pointer, bufferBytes, bufferText } from "./native.js";
import type { TextChunk, Usage } from "./types.js";
import { camelKeys } from "./wire.js";

interface PartRef {
  offset: number;
  length: number;
  dtype: "f64le" | "utf8";
}

const utf8 = new TextDecoder();

/** A JSON document kept as bytes and parsed on first read (most callers never read `raw`). */
class LazyJson {
  #bytes: Uint8Array | null;
  #value: unknown;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  get value(): unknown {
    if (this.#bytes !== null) {
      this.#value = JSON.parse(utf8.decode(this.#bytes));
      this.#bytes = null;
    }
    return this.#value;
  }
}

/** The result of `generateText`. */
export class TextResult {
  readonly text: string;
  readonly model: string;
  readonly finishReason: string | null;
  readonly usage: Usage | null;
  readonly requestId: string | null;
  readonly #raw: LazyJson;

  /** Reads a result buffer (the caller frees it). */
  constructor(ptr: Pointer, len: number) {
    const head = JSON.parse(bufferText(ptr, len)) as Record<string, unknown> & { raw_part: PartRef };
    this.text = head.text as string;
    this.model = head.model as string;
    this.finishReason = (head.finish_reason as string | null) ?? null;
    this.usage = (camelKeys(head.usage) as Usage | null) ?? null;
    this.requestId = (head.request_id as string | null) ?? null;
    this.#raw = new LazyJson(bufferBytes(ptr, head.raw_part.offset, head.raw_part.length));
  }

  /** The response body, parsed on first read. */
  get raw(): unknown {
    return this.#raw.value;
  }
}

/** Reads one stream item (the caller frees the buffer). */
export function textChunk(ptr: Pointer, len: number): TextChunk {
  const head = JSON.parse(bufferText(ptr, len)) as { text: string; finish_reason: string | null; raw_part: PartRef };
  const raw = new LazyJson(bufferBytes(ptr, head.raw_part.offset, head.raw_part.length));
  return {
    text: head.text,
    finishReason: head.finish_reason ?? null,
    get raw() {
      return raw.value;
    },
  };
}

/**
 * The result of `embed`: one `Float64Array` per input, in input order. Vectors of one length
 * are views over a single block copied out of the native buffer in one go; `lists` gives
 * plain `number[][]`.
 */
export class EmbedResult {
  readonly embeddings: Float64Array[];
  readonly model: string;
  readonly usage: Usage | null;
  readonly requestId: string | null;
  readonly #raw: unknown;

  constructor(ptr: Pointer, len: number) {
    const head = JSON.parse(bufferText(ptr, len)) as Record<string, unknown>;
    const parts = head.embeddings as (PartRef & { rows: number; cols: number }) | number[][];
    if (Array.isArray(parts)) {
      this.embeddings = parts.map((v) => Float64Array.from(v));
    } else {
      const block = new Float64Array(bufferBytes(ptr, parts.offset, parts.length).buffer);
      this.embeddings = Array.from({ length: parts.rows }, (_, i) => block.subarray(i * parts.cols, (i + 1) * parts.cols));
    }
    this.model = head.model as string;
    this.usage = (camelKeys(head.usage) as Usage | null) ?? null;
    this.requestId = (head.request_id as string | null) ?? null;
    this.#raw = head.raw;
  }

  /** The vectors as plain arrays. */
  get lists(): number[][] {
    return this.embeddings.map((v) => Array.from(v));
  }

  /** The response body (the core sends it without the vectors; they are in `embeddings`). */
  get raw(): unknown {
    return this.#raw;
  }
}
