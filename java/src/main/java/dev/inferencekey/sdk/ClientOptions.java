package dev.inferencekey.sdk;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Settings of a {@link ManagementClient} or {@link DataClient}. Every setting is optional: with
 * {@code fromEnv}, the library fills what is left out from {@code INFERENCEKEY_BASE_URL},
 * {@code INFERENCEKEY_PROJECT}, {@code INFERENCEKEY_SDK_TOKEN} and {@code INFERENCEKEY_API_KEY},
 * exactly as every InferenceKey SDK does. {@link #toString()} shows tokens redacted.
 *
 * @param sdkToken the {@code ik_sdk_} token (management clients only)
 * @param apiKey the default {@code ik_live_} key of {@link DataClient#endpoint(String)} (data clients only)
 * @param timeout how long one attempt may take ({@code null}: 60 s)
 * @param connectTimeout how long connecting may take ({@code null}: 5 s)
 * @param maxRetries retries of a failed attempt, 0 to 10 ({@code null}: 2)
 * @param defaultHeaders headers sent with every request
 */
public record ClientOptions(
        String project,
        String baseUrl,
        String sdkToken,
        String apiKey,
        Duration timeout,
        Duration connectTimeout,
        Integer maxRetries,
        Map<String, String> defaultHeaders) {

    public ClientOptions {
        defaultHeaders = defaultHeaders == null ? null : Map.copyOf(defaultHeaders);
    }

    /** No setting: everything from the environment. */
    public static ClientOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The config JSON of {@code ik_management_client_new} / {@code ik_data_client_new}. */
    Map<String, Object> toConfig(boolean management, boolean fromEnv) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("from_env", fromEnv);
        c.put("binding", "java");
        c.put("binding_version", Ffi.BINDING_VERSION);
        putIfSet(c, "project", project);
        putIfSet(c, "base_url", baseUrl);
        putIfSet(c, management ? "sdk_token" : "api_key", management ? sdkToken : apiKey);
        if (timeout != null) {
            c.put("timeout_s", seconds(timeout));
        }
        if (connectTimeout != null) {
            c.put("connect_timeout_s", seconds(connectTimeout));
        }
        putIfSet(c, "max_retries", maxRetries);
        putIfSet(c, "default_headers", defaultHeaders);
        return c;
    }

    /** A duration in seconds, as the library reads it (never overflows, unlike {@code toNanos}). */
    static double seconds(Duration d) {
        return d.getSeconds() + d.getNano() / 1e9;
    }

    private static void putIfSet(Map<String, Object> c, String key, Object value) {
        if (value != null) {
            c.put(key, value);
        }
    }

    @Override
    public String toString() {
        return "ClientOptions[project=" + project + ", baseUrl=" + baseUrl
                + ", sdkToken=" + (sdkToken == null ? null : Ffi.redactToken(sdkToken))
                + ", apiKey=" + (apiKey == null ? null : Ffi.redactToken(apiKey))
                + ", timeout=" + timeout + ", connectTimeout=" + connectTimeout + ", maxRetries=" + maxRetries
                + ", defaultHeaders=" + (defaultHeaders == null ? null : defaultHeaders.keySet()) + "]";
    }

    /** Builds {@link ClientOptions}. */
    public static final class Builder {
        private String project;
        private String baseUrl;
        private String sdkToken;
        private String apiKey;
        private Duration timeout;
        private Duration connectTimeout;
        private Integer maxRetries;
        private Map<String, String> defaultHeaders;

        private Builder() {}

        public Builder project(String project) {
            this.project = project;
            return this;
        }

        public Builder baseUrl(String baseUrl) {
            this.baseUrl = baseUrl;
            return this;
        }

        public Builder sdkToken(String sdkToken) {
            this.sdkToken = sdkToken;
            return this;
        }

        public Builder apiKey(String apiKey) {
            this.apiKey = apiKey;
            return this;
        }

        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        public Builder maxRetries(int maxRetries) {
            this.maxRetries = maxRetries;
            return this;
        }

        public Builder defaultHeaders(Map<String, String> headers) {
            this.defaultHeaders = headers;
            return this;
        }

        public ClientOptions build() {
            return new ClientOptions(project, baseUrl, sdkToken, apiKey, timeout, connectTimeout, maxRetries,
                    defaultHeaders);
        }
    }
}
