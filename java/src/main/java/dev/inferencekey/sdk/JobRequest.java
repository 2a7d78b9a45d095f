package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A fire-and-forget job for {@link Endpoint#submitJob}: a kind, and the request the
 * synchronous route would take, as JSON ({@code model} defaults to the workload's slug) or as
 * bytes with their media type (multipart audio, for instance). The library checks the rules
 * (a known kind, exactly one body, no bytes for chat) before anything is sent, and throws
 * {@link ValidationException} ({@code invalid_argument}) when one is broken.
 *
 * <pre>{@code
 * JobRef job = endpoint.submitJob(JobRequest.builder()
 *         .kind(JobKind.EMBEDDINGS)
 *         .body(Map.of("input", List.of("hello")))
 *         .context(Map.of("order", 42))
 *         .build());
 * }</pre>
 */
public final class JobRequest {
    /** The request JSON of the ABI, only set keys. */
    private final Map<String, Object> json;

    private JobRequest(Map<String, Object> json) {
        this.json = json;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The kind as given: a wire name or an alias. */
    public String kind() {
        return (String) json.get("kind");
    }

    /** What {@link Json#encode(Object, RequestOptions)} sends. */
    Map<String, Object> toJson() {
        return json;
    }

    /** Builds a {@link JobRequest}. */
    public static final class Builder {
        private final Map<String, Object> json = new LinkedHashMap<>();

        private Builder() {}

        public Builder kind(JobKind kind) {
            return kind(Objects.requireNonNull(kind, "kind").wireValue());
        }

        /** A kind's wire name or one of its aliases ({@code "chat_completions"}, {@code "reranking"}, …). */
        public Builder kind(String kind) {
            json.put("kind", Objects.requireNonNull(kind, "kind"));
            return this;
        }

        /**
         * The route's JSON request, as JSON values (maps, lists, strings, numbers, …), copied now.
         *
         * @throws IllegalArgumentException a value is not JSON
         */
        public Builder body(Map<String, ?> body) {
            json.put("body", Json.MAPPER.valueToTree(Objects.requireNonNull(body, "body")));
            return this;
        }

        /**
         * The route's JSON request, copied now.
         *
         * @throws IllegalArgumentException {@code body} is not a JSON object
         */
        public Builder body(JsonNode body) {
            if (!Objects.requireNonNull(body, "body").isObject()) {
                throw new IllegalArgumentException("a job's body must be a JSON object, not " + body.getNodeType());
            }
            json.put("body", body.deepCopy());
            return this;
        }

        /**
         * The request as bytes with their media type (e.g. {@code multipart/form-data;
         * boundary=…}); not for {@link JobKind#CHAT}. The bytes are read now.
         */
        public Builder body(byte[] body, String contentType) {
            json.put("body_b64", Base64.getEncoder().encodeToString(Objects.requireNonNull(body, "body")));
            json.put("content_type", Objects.requireNonNull(contentType, "contentType"));
            return this;
        }

        /**
         * Any JSON value (maps, lists, strings, numbers, a {@link JsonNode}), copied now, echoed
         * back in the job's deliveries as {@link WebhookEvent#context()}; {@code null} sends none.
         *
         * @throws IllegalArgumentException the value is not JSON
         */
        public Builder context(Object context) {
            if (context == null) {
                json.remove("context");
            } else {
                json.put("context", Json.MAPPER.valueToTree(context));
            }
            return this;
        }

        /** @throws IllegalStateException no kind was given */
        public JobRequest build() {
            if (!json.containsKey("kind")) {
                throw new IllegalStateException("a job needs a kind: JobRequest.builder().kind(JobKind.CHAT)…");
            }
            return new JobRequest(new LinkedHashMap<>(json));
        }
    }
}
