package dev.inferencekey.sdk;

/** Token counts of one call, as the server reported them. */
public record Usage(long promptTokens, long completionTokens, long totalTokens) {}
