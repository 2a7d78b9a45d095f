package dev.inferencekey.sdk;

import java.util.List;
import java.util.Map;

/**
 * A chat completion request: a {@code prompt} or {@code messages}, and sampling settings
 * ({@code null} leaves a setting to the server).
 *
 * @param extraBody further body keys, sent as given
 */
public record TextRequest(
        String prompt,
        List<Message> messages,
        Double temperature,
        Integer maxTokens,
        Double topP,
        List<String> stop,
        Long seed,
        Map<String, Object> extraBody) {

    public TextRequest {
        messages = messages == null ? null : List.copyOf(messages);
        stop = stop == null ? null : List.copyOf(stop);
        extraBody = extraBody == null ? null : Map.copyOf(extraBody);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link TextRequest}. */
    public static final class Builder {
        private String prompt;
        private List<Message> messages;
        private Double temperature;
        private Integer maxTokens;
        private Double topP;
        private List<String> stop;
        private Long seed;
        private Map<String, Object> extraBody;

        private Builder() {}

        public Builder prompt(String prompt) {
            this.prompt = prompt;
            return this;
        }

        public Builder messages(List<Message> messages) {
            this.messages = messages;
            return this;
        }

        public Builder messages(Message... messages) {
            return messages(List.of(messages));
        }

        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        public Builder topP(double topP) {
            this.topP = topP;
            return this;
        }

        public Builder stop(String... stop) {
            this.stop = List.of(stop);
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder extraBody(Map<String, Object> extraBody) {
            this.extraBody = extraBody;
            return this;
        }

        public TextRequest build() {
            return new TextRequest(prompt, messages, temperature, maxTokens, topP, stop, seed, extraBody);
        }
    }
}
