package dev.inferencekey.sdk;

import java.util.Objects;

/**
 * One chat message.
 *
 * @param role {@code system}, {@code user}, {@code assistant}, …
 * @param content text, or a list of content parts in OpenAI's shape
 */
public record Message(String role, Object content) {
    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static Message system(String text) {
        return new Message("system", text);
    }

    public static Message user(String text) {
        return new Message("user", text);
    }

    public static Message assistant(String text) {
        return new Message("assistant", text);
    }
}
