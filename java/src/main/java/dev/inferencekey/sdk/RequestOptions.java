package dev.inferencekey.sdk;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Overrides for one call (the optional last argument of every network method) or for a
 * derived handle ({@code withOptions}). A setting left out keeps the client's. The values are
 * checked by the library, as the client's own settings are: a non-positive timeout, a retry
 * count outside 0 to 10, a header name or value that HTTP cannot carry, or a header the client
 * owns ({@code Authorization}, {@code Host}, {@code Content-Length}, …) fails the call with a
 * {@link ConfigurationException} (code {@code invalid_option} or {@code invalid_header}) before
 * any request. {@link #toString()} shows header names, never values.
 */
public final class RequestOptions {
    /** No override. */
    public static final RequestOptions NONE = builder().build();

    private final Duration timeout;
    private final Duration connectTimeout;
    private final Integer maxRetries;
    private final Map<String, String> headers;

    private RequestOptions(Builder b) {
        this.timeout = b.timeout;
        this.connectTimeout = b.connectTimeout;
        this.maxRetries = b.maxRetries;
        this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(b.headers));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** How long one attempt may take; {@code null} keeps the client's. */
    public Duration timeout() {
        return timeout;
    }

    /** How long connecting may take; {@code null} keeps the client's. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** Retries of a failed attempt; {@code null} keeps the client's. */
    public Integer maxRetries() {
        return maxRetries;
    }

    /** Headers to add, in order; a {@code null} value drops a header of the client's defaults. */
    public Map<String, String> headers() {
        return headers;
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.timeout = timeout;
        b.connectTimeout = connectTimeout;
        b.maxRetries = maxRetries;
        b.headers.putAll(headers);
        return b;
    }

    /** These options over {@code base}: a setting of this one wins; headers merge, this one's last. */
    RequestOptions over(RequestOptions base) {
        Builder b = base.toBuilder();
        if (timeout != null) {
            b.timeout = timeout;
        }
        if (connectTimeout != null) {
            b.connectTimeout = connectTimeout;
        }
        if (maxRetries != null) {
            b.maxRetries = maxRetries;
        }
        // Re-inserted so that the order is this one's for the names it sets.
        headers.keySet().forEach(b.headers::remove);
        b.headers.putAll(headers);
        return b.build();
    }

    boolean isEmpty() {
        return timeout == null && connectTimeout == null && maxRetries == null && headers.isEmpty();
    }

    /**
     * The ABI's {@code CallOptions} JSON (the {@code "options"} key of a request, or the argument
     * of {@code ik_*_with_options}). Nothing is checked here: the library checks it all.
     */
    Map<String, Object> toJson() {
        Map<String, Object> o = new LinkedHashMap<>();
        if (timeout != null) {
            o.put("timeout_s", ClientOptions.seconds(timeout));
        }
        if (connectTimeout != null) {
            o.put("connect_timeout_s", ClientOptions.seconds(connectTimeout));
        }
        if (maxRetries != null) {
            o.put("max_retries", maxRetries);
        }
        if (!headers.isEmpty()) {
            o.put("headers", headers);
        }
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RequestOptions r && Objects.equals(timeout, r.timeout)
                && Objects.equals(connectTimeout, r.connectTimeout) && Objects.equals(maxRetries, r.maxRetries)
                && headers.equals(r.headers);
    }

    @Override
    public int hashCode() {
        return Objects.hash(timeout, connectTimeout, maxRetries, headers);
    }

    /** Header values are left out: any of them may be a credential. */
    @Override
    public String toString() {
        return "RequestOptions[timeout=" + timeout + ", connectTimeout=" + connectTimeout + ", maxRetries="
                + maxRetries + ", headers=" + headers.keySet() + "]";
    }

    /** Builds {@link RequestOptions}. */
    public static final class Builder {
        private Duration timeout;
        private Duration connectTimeout;
        private Integer maxRetries;
        private final Map<String, String> headers = new LinkedHashMap<>();

        private Builder() {}

        /** How long one attempt may take (positive); alone, it also caps the connect timeout. */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** How long connecting may take (positive). */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        /** Retries of a failed attempt, 0 to 10; 0 makes one attempt. */
        public Builder maxRetries(int maxRetries) {
            this.maxRetries = maxRetries;
            return this;
        }

        /** Adds a header (over a client default of the same name). */
        public Builder header(String name, String value) {
            headers.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** Adds these headers; a {@code null} value drops a client default of that name. */
        public Builder headers(Map<String, String> headers) {
            headers.forEach((name, value) -> this.headers.put(Objects.requireNonNull(name, "header name"), value));
            return this;
        }

        /** Leaves out a header of the client's defaults. */
        public Builder removeHeader(String name) {
            headers.put(Objects.requireNonNull(name, "name"), null);
            return this;
        }

        public RequestOptions build() {
            return new RequestOptions(this);
        }
    }
}
