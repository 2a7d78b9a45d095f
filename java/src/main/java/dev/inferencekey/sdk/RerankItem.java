package dev.inferencekey.sdk;

/**
 * One ranked document.
 *
 * @param index the document's position in the request
 * @param document the document's text when the server returned it, else {@code null}
 */
public record RerankItem(int index, double relevanceScore, String document) {}
