// @inferencekey/sdk: the InferenceKey SDK for Node.js, over the native core's C ABI.
export { ManagementClient, type ManagementClientOptions } from "./management.js";
export type { ClientOptions, TransportOptions } from "./native-client.js";
export { DataClient, Endpoint, TextStream, type DataClientOptions } from "./data.js";
export { TextResult, EmbedResult } from "./results.js";
export { verifyWebhook, type WebhookHeaders } from "./webhooks.js";
export type { RequestOptions } from "./call.js";
export * from "./enums.js";
export * from "./errors.generated.js";
export { InferenceKeyError, type ErrorDetails, type ErrorInit } from "./error-base.js";
export type * from "./types.js";
export { redactText, redactToken } from "./redact.js";
export { ABI_VERSION, libraryPath, libraryVersion, liveObjects } from "./native.js";
