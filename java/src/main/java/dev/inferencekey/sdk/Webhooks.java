package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Verifying the webhook deliveries of async jobs ({@link Endpoint#submitJob}).
 *
 * <p>Each delivery is a {@code POST} whose {@code X-InferenceKey-Signature: t=<unix
 * seconds>,v1=<hex>} header signs {@code "{t}.{raw body}"} with HMAC-SHA256 and the
 * destination's secret. Verify the <b>raw</b> request body, before parsing it (a parsed and
 * re-serialised body has other bytes and fails), and answer 2xx within 3 seconds. Deliveries
 * are at-least-once: act on each {@link WebhookEvent#jobId()} once.
 *
 * <pre>{@code
 * server.createContext("/hooks", exchange -> {
 *     byte[] body = exchange.getRequestBody().readAllBytes();
 *     try {
 *         WebhookEvent event = Webhooks.verify(body, exchange.getRequestHeaders(), secret);
 *         exchange.sendResponseHeaders(204, -1);
 *         queue.add(event); // work after the acknowledgement
 *     } catch (WebhookSignatureException e) {
 *         exchange.sendResponseHeaders(400, -1);
 *     }
 *     exchange.close();
 * });
 * }</pre>
 *
 * <p>The checks themselves (header parsing, constant-time comparison, timestamp tolerance) are
 * the native library's, shared by every language's SDK; no network is used.
 */
public final class Webhooks {
    /** How far the signed timestamp may be from now, either way, by default. */
    public static final Duration DEFAULT_TOLERANCE = Duration.ofSeconds(300);

    /** The {@link JobData} keys with their own component; the rest are its extras. */
    private static final Set<String> DATA_KEYS = Set.of("job_id", "status", "output", "usage", "error");

    private Webhooks() {}

    /** {@link #verify(byte[], Map, String, Duration)} with {@link #DEFAULT_TOLERANCE}. */
    public static WebhookEvent verify(byte[] payload, Map<String, ? extends Collection<String>> headers,
            String secret) {
        return verify(payload, headers, secret, DEFAULT_TOLERANCE);
    }

    /**
     * Verifies one delivery and returns its event.
     *
     * @param payload the raw request body exactly as received
     * @param headers the request's headers, names in any case: the JDK server's {@code
     *     exchange.getRequestHeaders()}, a Spring {@code @RequestHeader MultiValueMap<String,
     *     String>}, {@code java.net.http.HttpHeaders.map()}, …
     * @param secret the destination's signing secret ({@code whsec_…}), as shown once when the
     *     destination was added; never part of an exception or a {@code toString}
     * @param tolerance the largest distance between the signed timestamp and now, either way (a
     *     replayed or future-dated delivery is refused)
     * @throws WebhookSignatureException the delivery does not verify; {@link
     *     InferenceKeyException#code() code} names why ({@code webhook_header_malformed}, {@code
     *     webhook_signature_mismatch}, {@code webhook_timestamp_out_of_tolerance}, {@code
     *     webhook_payload_invalid})
     * @throws ValidationException an empty secret or a negative tolerance ({@code invalid_argument})
     * @throws NullPointerException an argument, a header name or a header value is null
     */
    public static WebhookEvent verify(byte[] payload, Map<String, ? extends Collection<String>> headers,
            String secret, Duration tolerance) {
        List<List<String>> pairs = new ArrayList<>();
        Objects.requireNonNull(headers, "headers").forEach((name, values) -> {
            for (String value : Objects.requireNonNull(values, "header values")) {
                pairs.add(pair(name, value));
            }
        });
        return verifyPairs(payload, pairs, secret, tolerance);
    }

    /** {@link #verify(byte[], Iterable, String, Duration)} with {@link #DEFAULT_TOLERANCE}. */
    public static WebhookEvent verify(byte[] payload, Iterable<? extends Map.Entry<String, String>> headers,
            String secret) {
        return verify(payload, headers, secret, DEFAULT_TOLERANCE);
    }

    /**
     * {@link #verify(byte[], Map, String, Duration)} for headers as name-value entries, repeats
     * kept: Netty's and Vert.x's headers, or a {@code Map<String, String>}'s {@code entrySet()}.
     */
    public static WebhookEvent verify(byte[] payload, Iterable<? extends Map.Entry<String, String>> headers,
            String secret, Duration tolerance) {
        List<List<String>> pairs = new ArrayList<>();
        for (Map.Entry<String, String> h : Objects.requireNonNull(headers, "headers")) {
            pairs.add(pair(h.getKey(), h.getValue()));
        }
        return verifyPairs(payload, pairs, secret, tolerance);
    }

    private static List<String> pair(String name, String value) {
        return List.of(Objects.requireNonNull(name, "header name"), Objects.requireNonNull(value, "header value"));
    }

    private static WebhookEvent verifyPairs(byte[] payload, List<List<String>> pairs, String secret,
            Duration tolerance) {
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(tolerance, "tolerance");
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("headers", pairs);
        request.put("secret", Objects.requireNonNull(secret, "secret"));
        request.put("tolerance_s", tolerance.getSeconds() + tolerance.getNano() / 1e9);
        byte[] req = Json.encode(request);
        return Ffi.call((out, len, err) -> Ffi.LIB.ik_webhook_verify(payload, Ffi.len(payload), req, Ffi.len(req), out,
                len, err), Webhooks::event);
    }

    static WebhookEvent event(Pointer buf, long len) {
        JsonNode j = Json.tree(Ffi.bytes(buf, len));
        JsonNode d = j.get("data");
        JobData data = null;
        if (d != null && d.isObject()) {
            Map<String, JsonNode> extras = new LinkedHashMap<>();
            d.properties().forEach(e -> {
                if (!DATA_KEYS.contains(e.getKey())) {
                    extras.put(e.getKey(), e.getValue());
                }
            });
            JsonNode usage = node(d, "usage");
            data = new JobData(d.path("job_id").asText(), d.path("status").asText(), node(d, "output"),
                    usage == null ? null : Json.convert(usage, Usage.class), node(d, "error"),
                    Collections.unmodifiableMap(extras));
        }
        JsonNode jobId = node(j, "job_id");
        return new WebhookEvent(j.path("event").asText(), j.path("ts").asLong(),
                jobId == null ? null : jobId.asText(), node(j, "context"), data);
    }

    /** The value of {@code field}; {@code null} when absent or JSON null. */
    private static JsonNode node(JsonNode j, String field) {
        JsonNode v = j.get(field);
        return v == null || v.isNull() ? null : v;
    }
}
