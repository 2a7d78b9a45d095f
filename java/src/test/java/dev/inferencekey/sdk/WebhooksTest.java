package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.Headers;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Webhooks#verify} against signatures computed here, independently of the library, with
 * the JDK's HmacSHA256. No network.
 */
class WebhooksTest {
    private static final String SECRET = "whsec_" + "5f".repeat(32);
    private static final String OTHER_SECRET = "whsec_" + "a0".repeat(32);
    private static final String HEADER = "X-InferenceKey-Signature";
    private static final String JOB = "9b2f6c1e-0000-4000-8000-000000000001";
    private static final byte[] BODY = ("{\"event\":\"job.completed\",\"ts\":1785060903,\"job_id\":\"" + JOB + "\","
            + "\"context\":{\"order\":42},\"data\":{\"job_id\":\"" + JOB + "\",\"status\":\"completed\","
            + "\"output\":{\"object\":\"list\",\"data\":[{\"embedding\":[0.5,-0.25]}]},"
            + "\"usage\":{\"prompt_tokens\":9,\"total_tokens\":9},\"metrics\":{\"queue_ms\":3},\"future_key\":[1]}}")
            .getBytes(StandardCharsets.UTF_8);

    /** {@code hex(HMAC-SHA256(secret, "{t}.{body}"))}, as wire §8.2 defines it. */
    static String v1(String secret, long t, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update((t + ".").getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    private static String signature(String secret, long t, byte[] body) {
        return "t=" + t + ",v1=" + v1(secret, t, body);
    }

    private static Map<String, List<String>> headers(String signature) {
        return Map.of("Content-Type", List.of("application/json"), HEADER, List.of(signature));
    }

    /** A refusal: the exact class and code, and neither secret in anything it shows. */
    private static WebhookSignatureException refused(String code, Executable call) {
        InferenceKeyException e = assertThrows(InferenceKeyException.class, call);
        assertSame(WebhookSignatureException.class, e.getClass(), e.toString());
        assertEquals(code, e.code(), e.toString());
        assertEquals(0, e.statusCode());
        assertNoSecret(e);
        return (WebhookSignatureException) e;
    }

    private static void assertNoSecret(Throwable e) {
        for (String s : List.of(SECRET, OTHER_SECRET)) {
            String hex = s.substring("whsec_".length());
            assertFalse(e.toString().contains(hex), e.toString());
            assertFalse(String.valueOf(e.getMessage()).contains(hex), e.getMessage());
        }
    }

    @Test
    void aValidDeliveryDecodesTyped() {
        WebhookEvent event = Webhooks.verify(BODY, headers(signature(SECRET, now(), BODY)), SECRET);
        assertEquals("job.completed", event.event());
        assertEquals(1785060903L, event.ts(), "the body's own ts, not the signature's");
        assertEquals(JOB, event.jobId());
        assertEquals(42, event.context().path("order").asInt());
        JobData data = event.data();
        assertEquals(JOB, data.jobId());
        assertEquals("completed", data.status());
        assertEquals(-0.25, data.output().path("data").get(0).path("embedding").get(1).asDouble());
        assertEquals(new Usage(9, 0, 9), data.usage());
        assertNull(data.error());
        assertEquals(Map.of("metrics", 3, "future_key", 1), Map.of("metrics", data.extras().get("metrics")
                .path("queue_ms").asInt(), "future_key", data.extras().get("future_key").get(0).asInt()));
        assertFalse(data.extras().containsKey("output"), "typed keys are not repeated as extras");
        assertThrows(UnsupportedOperationException.class, () -> data.extras().clear());
        assertFalse(event.toString().contains(SECRET.substring(6)));
    }

    @Test
    void aPingAndAFailedJob() {
        byte[] ping = "{\"event\":\"ping\",\"ts\":1}".getBytes(StandardCharsets.UTF_8);
        WebhookEvent p = Webhooks.verify(ping, headers(signature(SECRET, now(), ping)), SECRET);
        assertEquals("ping", p.event());
        assertNull(p.jobId());
        assertNull(p.data());
        assertNull(p.context());
        byte[] failed = ("{\"event\":\"job.failed\",\"ts\":2,\"job_id\":\"j\",\"data\":{\"job_id\":\"j\",\"status\":"
                + "\"failed\",\"error\":{\"message\":\"no\",\"type\":\"server_error\",\"code\":\"job_interrupted\"}}}")
                .getBytes(StandardCharsets.UTF_8);
        JobData d = Webhooks.verify(failed, headers(signature(SECRET, now(), failed)), SECRET).data();
        assertEquals("failed", d.status());
        assertEquals("job_interrupted", d.error().path("code").asText());
        assertNull(d.output());
        assertNull(d.usage());
        assertTrue(d.extras().isEmpty());
    }

    @Test
    void aTamperedBodyOrAnotherSecretIsRefused() {
        long t = now();
        byte[] tampered = BODY.clone();
        tampered[tampered.length - 3] = '2';
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(tampered, headers(signature(SECRET, t, BODY)), SECRET));
        byte[] longer = Arrays.copyOf(BODY, BODY.length + 1);
        longer[BODY.length] = ' ';
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(longer, headers(signature(SECRET, t, BODY)), SECRET));
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(BODY, headers(signature(OTHER_SECRET, t, BODY)), SECRET));
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(BODY, headers(signature(SECRET, t, BODY)), OTHER_SECRET));
        // A signature for another timestamp: t is signed too.
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(BODY, headers("t=" + (t + 1) + ",v1=" + v1(SECRET, t, BODY)), SECRET));
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(BODY, headers("t=" + t + ",v1=zz-not-hex"), SECRET));
    }

    @Test
    void staleAndFutureTimestampsAreRefused() {
        long t = now();
        WebhookSignatureException stale = refused(ErrorCodes.WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE,
                () -> Webhooks.verify(BODY, headers(signature(SECRET, t - 3600, BODY)), SECRET));
        assertTrue(stale.getMessage().contains("old"), stale.getMessage());
        WebhookSignatureException future = refused(ErrorCodes.WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE,
                () -> Webhooks.verify(BODY, headers(signature(SECRET, t + 3600, BODY)), SECRET));
        assertTrue(future.getMessage().contains("future"), future.getMessage());
        // The tolerance is the caller's.
        refused(ErrorCodes.WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE,
                () -> Webhooks.verify(BODY, headers(signature(SECRET, t - 120, BODY)), SECRET, Duration.ofSeconds(10)));
        assertEquals(JOB, Webhooks.verify(BODY, headers(signature(SECRET, t - 3600, BODY)), SECRET,
                Duration.ofHours(2)).jobId());
        assertEquals(JOB, Webhooks.verify(BODY, headers(signature(SECRET, t - 120, BODY)), SECRET).jobId(),
                "two minutes is within the default five");
    }

    @Test
    void anyOfSeveralV1SignaturesMayMatch() {
        long t = now();
        String good = v1(SECRET, t, BODY);
        String bad = v1(OTHER_SECRET, t, BODY);
        assertEquals(JOB, Webhooks.verify(BODY, headers("t=" + t + ",v1=" + bad + ",v1=" + good), SECRET).jobId());
        assertEquals(JOB, Webhooks.verify(BODY, headers("t=" + t + ",v1=" + good + ",v1=" + bad), SECRET).jobId());
        // Two header lines read as one list; an unknown scheme is ignored.
        assertEquals(JOB, Webhooks.verify(BODY, Map.of(HEADER, List.of("t=" + t + ",v1=" + bad, "v2=abc,v1=" + good)),
                SECRET).jobId());
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify(BODY, headers("t=" + t + ",v1=" + bad + ",v1=" + bad), SECRET));
    }

    @Test
    void malformedHeadersAreRefused() {
        long t = now();
        String good = v1(SECRET, t, BODY);
        refused(ErrorCodes.WEBHOOK_HEADER_MALFORMED,
                () -> Webhooks.verify(BODY, Map.of("Content-Type", List.of("application/json")), SECRET));
        refused(ErrorCodes.WEBHOOK_HEADER_MALFORMED, () -> Webhooks.verify(BODY, Map.of(), SECRET));
        for (String value : List.of("", "garbage", "v1=" + good, "t=" + t, "t=abc,v1=" + good, "t=-5,v1=" + good,
                "t=" + t + ",t=" + (t + 1) + ",v1=" + good, "t=1e9,v1=" + good, "t=" + "9".repeat(40) + ",v1=" + good)) {
            refused(ErrorCodes.WEBHOOK_HEADER_MALFORMED, () -> Webhooks.verify(BODY, headers(value), SECRET));
        }
        // A signature header with the right value under another name does not count.
        refused(ErrorCodes.WEBHOOK_HEADER_MALFORMED, () -> Webhooks.verify(BODY,
                Map.of("X-InferenceKey-Signature-Old", List.of(signature(SECRET, t, BODY))), SECRET));
    }

    @Test
    void headerNamesAreCaseInsensitiveInEveryShape() {
        String sig = signature(SECRET, now(), BODY);
        for (String name : List.of("x-inferencekey-signature", "X-INFERENCEKEY-SIGNATURE", "x-InferenceKey-signature")) {
            assertEquals(JOB, Webhooks.verify(BODY, Map.of(name, List.of(sig)), SECRET).jobId(), name);
            assertEquals(JOB, Webhooks.verify(BODY, List.of(new SimpleEntry<>("Accept", "*/*"),
                    new SimpleEntry<>(name, sig)), SECRET).jobId(), name);
            assertEquals(JOB, Webhooks.verify(BODY, Map.of(name, sig).entrySet(), SECRET).jobId(), name);
        }
        Headers jdk = new Headers(); // what the JDK HttpServer hands a handler
        jdk.add("x-inferencekey-signature", sig);
        assertEquals(JOB, Webhooks.verify(BODY, jdk, SECRET).jobId());
    }

    @Test
    void payloadsThatAreNoEventAreRefusedAfterTheSignature() {
        for (String body : List.of("not json", "{}", "[1,2]", "{\"event\":\"job.completed\",\"ts\":1}",
                "{\"event\":\"job.completed\",\"ts\":1,\"job_id\":\"a\",\"data\":{\"job_id\":\"b\",\"status\":\"completed\"}}")) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            refused(ErrorCodes.WEBHOOK_PAYLOAD_INVALID, () -> Webhooks.verify(b, headers(signature(SECRET, now(), b)), SECRET));
        }
        // An empty body is refused too, and the signature is checked first.
        byte[] empty = new byte[0];
        refused(ErrorCodes.WEBHOOK_PAYLOAD_INVALID,
                () -> Webhooks.verify(empty, headers(signature(SECRET, now(), empty)), SECRET));
        refused(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH,
                () -> Webhooks.verify("not json".getBytes(StandardCharsets.UTF_8), headers(signature(SECRET, now(), BODY)),
                        SECRET));
        // Invalid UTF-8 is just bytes that are no event.
        byte[] binary = {(byte) 0xff, (byte) 0xfe, 0, 1};
        refused(ErrorCodes.WEBHOOK_PAYLOAD_INVALID,
                () -> Webhooks.verify(binary, headers(signature(SECRET, now(), binary)), SECRET));
    }

    @Test
    void theSecretNeverShowsEvenWhenThePayloadQuotesIt() {
        // A signed payload whose decoding error would quote its values.
        for (String body : List.of("{\"event\":\"job.completed\",\"ts\":\"" + SECRET + "\"}", SECRET,
                "{\"event\":\"" + OTHER_SECRET + "\",\"ts\":1,\"data\":7}")) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            refused(ErrorCodes.WEBHOOK_PAYLOAD_INVALID, () -> Webhooks.verify(b, headers(signature(SECRET, now(), b)), SECRET));
        }
        // Nor when the header carries it.
        refused(ErrorCodes.WEBHOOK_HEADER_MALFORMED, () -> Webhooks.verify(BODY, headers(SECRET), SECRET));
    }

    @Test
    void aLargeBodyVerifies() {
        StringBuilder big = new StringBuilder("{\"event\":\"job.completed\",\"ts\":1,\"job_id\":\"j\",\"data\":{\"job_id\":"
                + "\"j\",\"status\":\"completed\",\"output\":{\"text\":\"");
        big.append("x".repeat(8 << 20)).append("\"}}}");
        byte[] b = big.toString().getBytes(StandardCharsets.UTF_8);
        WebhookEvent e = Webhooks.verify(b, headers(signature(SECRET, now(), b)), SECRET);
        assertEquals(8 << 20, e.data().output().path("text").asText().length());
    }

    @Test
    void badArgumentsAreTypedErrors() {
        Map<String, List<String>> h = headers(signature(SECRET, now(), BODY));
        ValidationException empty = assertThrows(ValidationException.class, () -> Webhooks.verify(BODY, h, ""));
        assertEquals(ErrorCodes.INVALID_ARGUMENT, empty.code());
        assertEquals(ErrorCodes.INVALID_ARGUMENT, assertThrows(ValidationException.class,
                () -> Webhooks.verify(BODY, h, SECRET, Duration.ofSeconds(-1))).code());
        assertThrows(NullPointerException.class, () -> Webhooks.verify(null, h, SECRET));
        assertThrows(NullPointerException.class, () -> Webhooks.verify(BODY, (Map<String, List<String>>) null, SECRET));
        assertThrows(NullPointerException.class, () -> Webhooks.verify(BODY, h, null));
        assertThrows(NullPointerException.class, () -> Webhooks.verify(BODY, h, SECRET, null));
        List<Map.Entry<String, String>> nullValue = new ArrayList<>();
        nullValue.add(new SimpleEntry<>(HEADER, null));
        assertThrows(NullPointerException.class, () -> Webhooks.verify(BODY, nullValue, SECRET));
        // Header text the JSON request must carry intact: NUL, quotes, non-ASCII.
        refused(ErrorCodes.WEBHOOK_HEADER_MALFORMED,
                () -> Webhooks.verify(BODY, headers("t=1\0\",v1=\u00e9"), SECRET));
    }
}
