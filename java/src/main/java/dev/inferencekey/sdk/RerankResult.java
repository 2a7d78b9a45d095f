package dev.inferencekey.sdk;

import java.util.List;

/**
 * Documents ranked against a query, best first.
 *
 * @param raw the response body, as JSON values
 */
public record RerankResult(List<RerankItem> results, String model, Usage usage, String requestId, Object raw) {}
