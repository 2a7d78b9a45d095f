package dev.inferencekey.sdk;

/**
 * A chat completion.
 *
 * @param finishReason e.g. {@code stop} or {@code length}; {@code null} when the server sent none
 * @param usage {@code null} when the server sent none
 * @param requestId the server's request id, {@code null} when unknown
 * @param raw the response body, as JSON text
 */
public record TextResult(String text, String model, String finishReason, Usage usage, String requestId, String raw) {}
