package dev.inferencekey.sdk;

/**
 * One piece of a streamed chat completion.
 *
 * @param finishReason set on the last chunk
 * @param raw the event's data, as JSON text
 */
public record TextChunk(String text, String finishReason, String raw) {}
