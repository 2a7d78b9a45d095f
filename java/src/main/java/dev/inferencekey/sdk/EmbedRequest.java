package dev.inferencekey.sdk;

import java.util.List;
import java.util.Map;

/**
 * Texts to embed, one vector each.
 *
 * @param extraBody further body keys, sent as given
 */
public record EmbedRequest(List<String> input, Map<String, Object> extraBody) {
    public EmbedRequest {
        input = List.copyOf(input);
        extraBody = extraBody == null ? null : Map.copyOf(extraBody);
    }

    public static EmbedRequest of(String... input) {
        return new EmbedRequest(List.of(input), null);
    }

    public static EmbedRequest of(List<String> input) {
        return new EmbedRequest(input, null);
    }
}
