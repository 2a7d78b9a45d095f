package dev.inferencekey.sdk;

import java.util.List;

/**
 * Embedding vectors, one per input, in input order.
 *
 * @param embeddings the vectors (the arrays are this result's own; changing them changes it)
 * @param usage {@code null} when the server sent none
 * @param raw the response body without the vectors, as JSON values
 */
public record EmbedResult(List<double[]> embeddings, String model, Usage usage, String requestId, Object raw) {}
