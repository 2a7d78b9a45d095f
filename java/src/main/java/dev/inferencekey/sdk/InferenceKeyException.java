package dev.inferencekey.sdk;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Every error of the SDK. Its subclasses are generated from the ABI's status table
 * ({@code include/inferencekey.schema.json}); this class itself stands for the statuses that
 * mean a binding or library bug ({@code null_argument}, {@code invalid_handle}, {@code
 * internal_panic}, …).
 *
 * <p>The message, code and request id come from the native library, which redacts every token
 * ({@code ik_sdk_…}, {@code ik_live_…}) before they leave it, so neither {@link #getMessage()}
 * nor {@link #toString()} can show a secret.
 */
public class InferenceKeyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String code;
    private final int statusCode;
    private final String requestId;
    private final transient Map<String, Object> details;

    /**
     * @param message the redacted message
     * @param code the machine-readable code ({@link ErrorCodes}), never {@code null}
     * @param statusCode the HTTP status of the response behind the error, 0 when there was none
     * @param requestId the server's request id, or {@code null}
     * @param details class-specific extras ({@code changes}, {@code retry_after}, {@code field}, …)
     */
    public InferenceKeyException(String message, String code, int statusCode, String requestId,
            Map<String, Object> details) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
        this.statusCode = statusCode;
        this.requestId = requestId;
        this.details = details == null ? Map.of() : Map.copyOf(details);
    }

    /** The machine-readable code, e.g. {@code "scope_insufficient"}; see {@link ErrorCodes}. */
    public String code() {
        return code;
    }

    /** The HTTP status of the response behind the error; 0 when there was none. */
    public int statusCode() {
        return statusCode;
    }

    /** The server's request id, when the server sent one. */
    public Optional<String> requestId() {
        return Optional.ofNullable(requestId);
    }

    /** How long the server asked to wait before retrying (HTTP {@code Retry-After}), if it did. */
    public Optional<Duration> retryAfter() {
        return details.get("retry_after") instanceof Number n
                ? Optional.of(Duration.ofNanos(Math.round(n.doubleValue() * 1e9)))
                : Optional.empty();
    }

    /** Class-specific extras as the library reported them (JSON values as Java maps and lists). */
    public Map<String, Object> details() {
        return details;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(getClass().getName()).append(": ").append(getMessage());
        s.append(" (code=").append(code);
        if (statusCode != 0) {
            s.append(", status=").append(statusCode);
        }
        if (requestId != null) {
            s.append(", request_id=").append(requestId);
        }
        return s.append(')').toString();
    }
}
