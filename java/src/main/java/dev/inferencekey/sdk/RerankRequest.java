package dev.inferencekey.sdk;

import java.util.List;
import java.util.Map;

/**
 * Documents to rank against a query.
 *
 * @param topN how many to return, best first; {@code null} returns all
 * @param extraBody further body keys, sent as given
 */
public record RerankRequest(String query, List<String> documents, Integer topN, Map<String, Object> extraBody) {
    public RerankRequest {
        documents = List.copyOf(documents);
        extraBody = extraBody == null ? null : Map.copyOf(extraBody);
    }

    public static RerankRequest of(String query, List<String> documents) {
        return new RerankRequest(query, documents, null, null);
    }

    public RerankRequest withTopN(int topN) {
        return new RerankRequest(query, documents, topN, extraBody);
    }
}
