// Wire enums as const objects (raw strings are accepted everywhere too).

/** Native serving backends; any other canonical slug names a custom backend. */
export const Backend = {
  Ollama: "ollama",
  Vllm: "vllm",
  VllmOmni: "vllm-omni",
  Sglang: "sglang",
  Llamacpp: "llamacpp",
  StableDiffusionCpp: "stablediffusioncpp",
} as const;
export type Backend = (typeof Backend)[keyof typeof Backend];

export const TaskType = {
  Text2Text: "text2text",
  Embedding: "embedding",
  Text2Image: "text2image",
  Text2Video: "text2video",
  Text2Audio: "text2audio",
  Image2Image: "image2image",
  Image2Video: "image2video",
  Audio2Text: "audio2text",
  Omni: "omni",
  Reranker: "reranker",
  Classification: "classification",
  Reward: "reward",
  Forecast: "forecast",
} as const;
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

/** What `ensure()` does when the live workload differs from the spec. */
export const OnDrift = {
  Reconcile: "reconcile",
  Fail: "fail",
  DryRun: "dry_run",
  Warn: "warn",
  Ignore: "ignore",
} as const;
export type OnDrift = (typeof OnDrift)[keyof typeof OnDrift];

export const ExecutionPolicy = { Fixed: "fixed", Scheduled: "scheduled", Autoscaling: "autoscaling" } as const;
export type ExecutionPolicy = (typeof ExecutionPolicy)[keyof typeof ExecutionPolicy];

/** The outcome of an `ensure()` that did not throw. */
export const EnsureAction = {
  Created: "created",
  Updated: "updated",
  Unchanged: "unchanged",
  Planned: "planned",
  DriftIgnored: "drift_ignored",
  DriftWarned: "drift_warned",
} as const;
export type EnsureAction = (typeof EnsureAction)[keyof typeof EnsureAction];

/** What an async job (`Endpoint.submitJob`) runs. The aliases the platform accepts (`chat_completions`, `reranking`, `images_generations`) may be passed as plain strings. */
export const JobKind = {
  Chat: "chat",
  Embeddings: "embeddings",
  Rerank: "rerank",
  AudioSpeech: "audio_speech",
  AudioGenerate: "audio_generate",
  AudioTranscriptions: "audio_transcriptions",
  Images: "images",
  ImagesEdits: "images_edits",
  ImagesVariations: "images_variations",
  Forecast: "forecast",
} as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];
