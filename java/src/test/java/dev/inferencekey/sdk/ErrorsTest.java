package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every exception class, each raised through the public API: by the real local platform where
 * it can produce the error, else by a scripted fake server (named so in each test).
 */
class ErrorsTest {
    private static final String TOKEN =
            "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    private static final String KEY =
            "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    private static <T extends InferenceKeyException> T assertRaises(Class<T> type, Executable call) {
        InferenceKeyException e = assertThrows(InferenceKeyException.class, call);
        assertSame(type, e.getClass(), e.toString());
        assertFalse(e.toString().contains("ik_sdk_1a2b3c4d_0011"), e.toString());
        assertFalse(e.toString().contains("ik_live_9f8e7d6c_ffee"), e.toString());
        return type.cast(e);
    }

    private static ManagementClient mgmt(String baseUrl) {
        return ManagementClient.create(ClientOptions.builder().baseUrl(baseUrl).project("acme").sdkToken(TOKEN)
                .maxRetries(0).timeout(Duration.ofSeconds(5)).build());
    }

    private static WorkloadSpec spec(String slug) {
        return WorkloadSpec.builder().name("x").slug(slug).model("m").backend(Backend.VLLM).build();
    }

    @Test
    void configurationWithoutAToken() {
        ConfigurationException e = assertRaises(ConfigurationException.class,
                () -> ManagementClient.create(ClientOptions.builder().baseUrl("http://127.0.0.1:1").project("acme").build()));
        assertEquals(ErrorCodes.MISSING_TOKEN, e.code());
        assertEquals(0, e.statusCode());
    }

    @Test
    void validationBeforeAnyRequest() {
        try (ManagementClient m = mgmt("http://127.0.0.1:1")) {
            ValidationException e = assertRaises(ValidationException.class, () -> m.ensure(spec("Not A Slug")));
            assertEquals(ErrorCodes.INVALID_SLUG, e.code());
        }
    }

    @Test
    void authenticationFromTheRealPlatform() {
        DevPlatform dev = DevPlatform.get();
        try (ManagementClient m = mgmt(dev.baseUrl)) {
            AuthenticationException e = assertRaises(AuthenticationException.class, m::list);
            assertEquals(401, e.statusCode());
            assertTrue(e.requestId().isPresent());
        }
    }

    @Test
    void permissionAndNotFoundFromTheRealPlatform() {
        DevPlatform dev = DevPlatform.get();
        try (ManagementClient reader = ManagementClient.create(ClientOptions.builder().baseUrl(dev.baseUrl)
                .project(dev.project).sdkToken(dev.mintSdkToken("workload:read")).build())) {
            PermissionDeniedException e = assertRaises(PermissionDeniedException.class,
                    () -> reader.ensure(spec("java-denied")));
            assertEquals(403, e.statusCode());
            assertEquals(ErrorCodes.SCOPE_INSUFFICIENT, e.code());
            NotFoundException nf = assertRaises(NotFoundException.class, () -> reader.get("no-such-workload"));
            assertEquals(404, nf.statusCode());
            assertInstanceOf(ApiException.class, nf);
        }
    }

    @Test
    void rateLimitCarriesRetryAfter() throws Exception {
        // Fake: a 429 with Retry-After on demand.
        try (FakeServer s = FakeServer.answering(429, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}",
                Map.of("Retry-After", "3")); ManagementClient m = mgmt(s.baseUrl())) {
            RateLimitException e = assertRaises(RateLimitException.class, m::list);
            assertEquals(429, e.statusCode());
            assertEquals(Duration.ofSeconds(3), e.retryAfter().orElseThrow());
        }
    }

    @Test
    void apiAndServerErrors() throws Exception {
        // Fake: statuses a healthy platform does not answer.
        try (FakeServer s = FakeServer.answering(418, "{\"error\":{\"code\":\"teapot\",\"message\":\"no\"}}", Map.of());
                ManagementClient m = mgmt(s.baseUrl())) {
            ApiException e = assertRaises(ApiException.class, m::list);
            assertEquals(418, e.statusCode());
        }
        try (FakeServer s = FakeServer.answering(500, "{\"error\":{\"code\":\"internal_error\",\"message\":\"boom " + TOKEN
                + "\"}}", Map.of()); ManagementClient m = mgmt(s.baseUrl())) {
            InternalServerException e = assertRaises(InternalServerException.class, m::list);
            assertEquals(500, e.statusCode());
            assertTrue(e.getMessage().contains("ik_sdk_1a2b3c4d…"), "the token is shown redacted: " + e.getMessage());
        }
    }

    @Test
    void conflict() throws Exception {
        // Fake: a 409 on create (the conformance vectors cover the real flow).
        try (FakeServer s = new FakeServer(ex -> FakeServer.send(ex, ex.getRequestMethod().equals("GET") ? 200 : 409,
                ex.getRequestMethod().equals("GET") ? "[]" : "{\"error\":{\"code\":\"slug_conflict\",\"message\":\"taken\"}}",
                Map.of())); ManagementClient m = mgmt(s.baseUrl())) {
            assertEquals(ErrorCodes.SLUG_CONFLICT, assertRaises(ConflictException.class, () -> m.ensure(spec("x"))).code());
        }
    }

    @Test
    void workloadFailedAndReadinessTimeout() throws Exception {
        // Fake: a readiness stream ending in phase error, then one that never ends.
        String error = "data: {\"phase\":\"error\",\"message\":\"process exited with status 1\",\"elapsed_ms\":5,"
                + "\"log_tail\":\"bad flag\\n\"}\n\n";
        try (FakeServer s = new FakeServer(ex -> {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream");
            byte[] b = error.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
        }); ManagementClient m = mgmt(s.baseUrl())) {
            WorkloadFailedException e = assertRaises(WorkloadFailedException.class,
                    () -> m.waitUntilReady("bot", Duration.ofSeconds(5), null));
            assertEquals("bad flag\n", e.logTail().orElseThrow());
        }
        try (FakeServer s = new FakeServer(ex -> {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, 0);
            ex.getResponseBody().write("data: {\"phase\":\"scheduling\",\"message\":\"queued\"}\n\n".getBytes(
                    java.nio.charset.StandardCharsets.UTF_8));
            ex.getResponseBody().flush();
            try {
                Thread.sleep(3000);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }); ManagementClient m = mgmt(s.baseUrl())) {
            assertRaises(ReadinessTimeoutException.class, () -> m.waitUntilReady("bot", Duration.ofMillis(500), null));
        }
    }

    @Test
    void connectionAndTimeout() throws Exception {
        try (ManagementClient m = mgmt("http://127.0.0.1:1")) {
            assertEquals(ErrorCodes.CONNECTION_FAILED, assertRaises(ApiConnectionException.class, m::list).code());
        }
        // Fake: a server that never answers.
        try (SilentServer s = new SilentServer(); ManagementClient m = ManagementClient.create(ClientOptions.builder()
                .baseUrl(s.baseUrl()).project("acme").sdkToken(TOKEN).maxRetries(0).timeout(Duration.ofMillis(300))
                .build())) {
            ApiTimeoutException e = assertRaises(ApiTimeoutException.class, m::list);
            assertInstanceOf(ApiConnectionException.class, e);
        }
    }

    @Test
    void invalidStateAfterClose() {
        ManagementClient m = mgmt("http://127.0.0.1:1");
        m.close();
        m.close();
        assertEquals("client_closed", assertRaises(InvalidStateException.class, m::list).code());
        assertEquals("ManagementClient[closed]", m.toString());
    }

    @Test
    void webhookSignatureFromVerify() {
        byte[] body = "{\"event\":\"ping\",\"ts\":1}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long t = System.currentTimeMillis() / 1000;
        WebhookSignatureException e = assertRaises(WebhookSignatureException.class, () -> Webhooks.verify(body,
                Map.of("X-InferenceKey-Signature", List.of("t=" + t + ",v1=" + WebhooksTest.v1("whsec_other", t, body))),
                "whsec_mine"));
        assertEquals(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH, e.code());
        assertEquals(0, e.statusCode());
        assertFalse(e.toString().contains("whsec_mine"), e.toString());
    }

    @Test
    void driftCarriesItsChanges() throws Exception {
        // The conformance vectors replay drift against the fake control plane; here the class.
        DriftException e = new DriftException("drifted", "drift_detected", 0, null,
                Map.of("changes", List.of(Map.of("field", "model", "live", "a", "desired", "b", "patchable", true))));
        assertEquals(List.of(new FieldChange("model", "a", "b", true)), e.changes());
        assertInstanceOf(ValidationException.class, e);
    }

    @Test
    void statusesMapByValueThenByBlock() {
        assertSame(InferenceKeyException.class, StatusTable.exception(1001, "m", "null_argument", 0, null, null).getClass());
        assertSame(InferenceKeyException.class, StatusTable.exception(9000, "m", "internal_panic", 0, null, null).getClass());
        assertSame(CancelledException.class, StatusTable.exception(2100, "m", "cancelled", 0, null, null).getClass());
        assertSame(WebhookSignatureException.class,
                StatusTable.exception(2200, "m", "webhook_signature_mismatch", 0, null, null).getClass());
        assertSame(ApiConnectionException.class, StatusTable.exception(1950, "m", "new", 0, null, null).getClass(),
                "an unknown status within a block maps to the block's class");
        assertSame(InferenceKeyException.class, StatusTable.exception(4242, "m", "new", 0, null, null).getClass());
    }

    @Test
    void toStringNeverShowsASecret() {
        ClientOptions o = ClientOptions.builder().sdkToken(TOKEN).apiKey(KEY).build();
        assertFalse(o.toString().contains("0011223344"), o.toString());
        assertFalse(o.toString().contains("ffeeddccbb"), o.toString());
        try (DataClient d = DataClient.create(ClientOptions.builder().baseUrl("http://127.0.0.1:1").project("acme")
                .apiKey(KEY).build()); Endpoint ep = d.endpoint("bot")) {
            assertTrue(ep.toString().contains("ik_live_9f8e7d6c…"), ep.toString());
            assertFalse(ep.toString().contains("ffeeddccbb"), ep.toString());
        }
    }
}
