// The public data shapes: camelCase fields over the snake_case wire JSON.
import type { Backend, EnsureAction, ExecutionPolicy, OnDrift, TaskType } from "./enums.js";
import type { RequestOptions } from "./call.js";

/** The declared state of a workload (sdk-behaviour §3.1). Enum fields take raw strings too. */
export interface WorkloadSpec {
  name: string;
  slug: string;
  model: string;
  backend: Backend | (string & {});
  command?: string | null;
  description?: string | null;
  taskType?: TaskType | (string & {}) | null;
  /** Backend config, sent as given (snake_case keys stay snake_case). */
  config?: Record<string, unknown> | null;
  executionPolicy?: ExecutionPolicy | (string & {}) | null;
  executionPolicyConfig?: Record<string, unknown> | null;
  gpuResourceId?: string | null;
  workerId?: string | null;
  vllmVersion?: string | null;
  project?: string | null;
}

/** A workload as the server described it. */
export interface Workload {
  id: string | null;
  projectId: string | null;
  projectSlug: string | null;
  slug: string;
  name: string | null;
  description: string | null;
  taskType: string | null;
  backend: string | null;
  model: string | null;
  config: Record<string, unknown>;
  workerId: string | null;
  gpuResourceId: string | null;
  executionPolicy: string | null;
  executionPolicyConfig: unknown;
  phase: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  /** The element exactly as received. */
  raw: unknown;
}

/** One drifted (or, for a create, sent) field. */
export interface FieldChange {
  field: string;
  live: unknown;
  desired: unknown;
  patchable: boolean;
}

/** The result of `ensure()` / `plan()`. */
export interface EnsureResult {
  projectSlug: string;
  workloadSlug: string;
  action: EnsureAction;
  changes: FieldChange[];
  workloadId: string | null;
  workload: Workload | null;
  /** `"create"` or `"update"` when `action` is `planned`. */
  plannedOperation: "create" | "update" | null;
}

/** One readiness frame. */
export interface ReadinessEvent {
  phase: string;
  message: string;
  elapsedMs: number;
  step: string | null;
  logTail: string | null;
}

export interface ProjectOptions extends RequestOptions {
  /** Overrides the client's project for this call. */
  project?: string;
}

export interface EnsureOptions extends ProjectOptions {
  /** Default `reconcile`. */
  onDrift?: OnDrift | (string & {});
}

export interface WaitOptions extends ProjectOptions {
  /** The hard deadline of the whole wait (default 600 000 ms). */
  timeoutMs?: number;
  /** Called with every readiness event, the terminal one included. */
  onProgress?: (event: ReadinessEvent) => void;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ChatMessage {
  role: string;
  content: string | unknown[];
  [key: string]: unknown;
}

/** Arguments of `generateText` / `generateTextStream`: a `prompt` or `messages`. */
export interface TextRequest extends RequestOptions {
  prompt?: string;
  messages?: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  stop?: string | string[];
  seed?: number;
  /** Sent as extra top-level keys of the request body. */
  extraBody?: Record<string, unknown>;
}

export interface EmbedRequest extends RequestOptions {
  input: string | string[];
  extraBody?: Record<string, unknown>;
}

export interface RerankRequest extends RequestOptions {
  query: string;
  documents: string[];
  topN?: number;
  extraBody?: Record<string, unknown>;
}

export interface RerankItem {
  index: number;
  relevanceScore: number;
  document: string | null;
}

export interface RerankResult {
  /** Best first. */
  results: RerankItem[];
  model: string;
  usage: Usage | null;
  requestId: string | null;
  raw: unknown;
}

export interface TextChunk {
  text: string;
  finishReason: string | null;
  /** The event's JSON, parsed on first read. */
  readonly raw: unknown;
}
