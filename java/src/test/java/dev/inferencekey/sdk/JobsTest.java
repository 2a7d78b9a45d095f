package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Endpoint#submitJob}: the local checks (no network: the endpoint points at a closed
 * port, so a request that left would fail differently), then jobs on the real local platform
 * delivered to a JDK HttpServer receiver and verified with {@link Webhooks#verify}.
 */
class JobsTest {
    private static final String KEY =
            "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    private static Endpoint offline(DataClient d) {
        return d.endpoint("bot", KEY);
    }

    private static DataClient offlineClient() {
        return DataClient.create(ClientOptions.builder().baseUrl("http://127.0.0.1:1").project("acme").apiKey(KEY)
                .maxRetries(0).timeout(Duration.ofSeconds(5)).build());
    }

    private static void refusedLocally(Endpoint ep, JobRequest request, String mentions) throws Exception {
        Executable[] calls = {() -> ep.submitJob(request), () -> {
            try {
                ep.submitJobAsync(request).get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw e.getCause();
            }
        }};
        for (Executable call : calls) {
            InferenceKeyException e = assertThrows(InferenceKeyException.class, call);
            assertSame(ValidationException.class, e.getClass(), e.toString());
            assertEquals(ErrorCodes.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains(mentions), e.getMessage());
            assertFalse(e.toString().contains("ffeeddccbb"), e.toString());
        }
    }

    @Test
    void brokenRulesAreRefusedBeforeAnyRequest() throws Exception {
        Map<String, Object> body = Map.of("input", List.of("a"));
        try (DataClient d = offlineClient(); Endpoint ep = offline(d)) {
            refusedLocally(ep, JobRequest.builder().kind("translate").body(body).build(), "translate");
            refusedLocally(ep, JobRequest.builder().kind("CHAT").body(body).build(), "CHAT");
            refusedLocally(ep, JobRequest.builder().kind(JobKind.EMBEDDINGS).build(), "body");
            refusedLocally(ep, JobRequest.builder().kind(JobKind.EMBEDDINGS).body(body)
                    .body(new byte[] {1}, "application/json").build(), "both");
            refusedLocally(ep, JobRequest.builder().kind(JobKind.CHAT)
                    .body("{}".getBytes(StandardCharsets.UTF_8), "application/json").build(), "chat");
            refusedLocally(ep, JobRequest.builder().kind("chat_completions")
                    .body("{}".getBytes(StandardCharsets.UTF_8), "application/json").build(), "chat");
            refusedLocally(ep, JobRequest.builder().kind(JobKind.AUDIO_TRANSCRIPTIONS).body(new byte[] {1}, " ")
                    .build(), "content_type");
            refusedLocally(ep, JobRequest.builder().kind(JobKind.AUDIO_TRANSCRIPTIONS)
                    .body(new byte[] {1}, "audio/wav\r\nX-Injected: 1").build(), "content_type");
            // Accepted locally, so it reaches the (closed) network: the checks above did not.
            assertInstanceOf(ApiConnectionException.class, assertThrows(InferenceKeyException.class, () -> ep.submitJob(
                    JobRequest.builder().kind("reranking").body(body).build())));
        }
    }

    @Test
    void whatJavaTypesCannotSayIsRefusedWhenBuilt() throws Exception {
        assertThrows(IllegalStateException.class, () -> JobRequest.builder().body(Map.of()).build());
        JsonNode array = Json.MAPPER.readTree("[1]");
        assertThrows(IllegalArgumentException.class, () -> JobRequest.builder().body(array));
        assertThrows(IllegalArgumentException.class, () -> JobRequest.builder().context(new Object()),
                "not JSON");
    }

    @Test
    void nullsAreRefusedInJava() {
        assertThrows(NullPointerException.class, () -> JobRequest.builder().kind((JobKind) null));
        assertThrows(NullPointerException.class, () -> JobRequest.builder().body((Map<String, Object>) null));
        assertThrows(NullPointerException.class, () -> JobRequest.builder().body(new byte[0], null));
        try (DataClient d = offlineClient(); Endpoint ep = offline(d)) {
            assertThrows(NullPointerException.class, () -> ep.submitJob(null));
            assertThrows(NullPointerException.class,
                    () -> ep.submitJob(JobRequest.builder().kind("chat").build(), null));
        }
    }

    @Test
    void theRequestIsCopiedWhenBuilt() {
        java.util.HashMap<String, Object> body = new java.util.HashMap<>(Map.of("input", List.of("a")));
        JobRequest.Builder b = JobRequest.builder().kind(JobKind.EMBEDDINGS).body(body).context(Map.of("n", 1));
        body.put("input", List.of("changed"));
        JobRequest r = b.build();
        b.kind(JobKind.RERANK).context(null);
        assertEquals("embeddings", r.kind());
        assertEquals("{\"kind\":\"embeddings\",\"body\":{\"input\":[\"a\"]},\"context\":{\"n\":1}}",
                new String(Json.encode(r.toJson()), StandardCharsets.UTF_8));
        assertEquals("{\"kind\":\"rerank\",\"body\":{\"input\":[\"changed\"]}}", new String(Json.encode(
                b.body(body).build().toJson()), StandardCharsets.UTF_8));
        assertEquals("{\"kind\":\"audio_speech\",\"body_b64\":\"AP8=\",\"content_type\":\"audio/wav\"}",
                new String(Json.encode(JobRequest.builder().kind(JobKind.AUDIO_SPEECH)
                        .body(new byte[] {0, (byte) 0xff}, "audio/wav").build().toJson()), StandardCharsets.UTF_8));
    }

    @Test
    void kindsMapToTheirWireNames() {
        for (JobKind k : JobKind.values()) {
            assertSame(k, JobKind.fromWire(k.wireValue()));
        }
        assertEquals("images_variations", JobKind.IMAGES_VARIATIONS.toString());
        assertThrows(IllegalArgumentException.class, () -> JobKind.fromWire("chat_completions"));
    }

    /** A JDK HttpServer receiver: verifies each delivery as a handler would, acknowledges with 204. */
    private static final class Receiver implements AutoCloseable {
        final HttpServer server;
        final BlockingQueue<Object> received = new LinkedBlockingQueue<>();
        volatile String secret;

        Receiver() throws java.io.IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/hooks", exchange -> {
                byte[] body = exchange.getRequestBody().readAllBytes();
                try {
                    received.add(Webhooks.verify(body, exchange.getRequestHeaders(), secret));
                    exchange.sendResponseHeaders(204, -1);
                } catch (RuntimeException e) {
                    received.add(e);
                    exchange.sendResponseHeaders(400, -1);
                }
                exchange.close();
            });
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort() + "/hooks";
        }

        /** The verified event of {@code jobId} (other deliveries, such as pings, are skipped). */
        WebhookEvent eventOf(String jobId, Duration within) throws InterruptedException {
            long deadline = System.nanoTime() + within.toNanos();
            while (true) {
                Object r = received.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (r == null) {
                    throw new AssertionError("no delivery of job " + jobId + " within " + within);
                }
                if (r instanceof RuntimeException e) {
                    throw new AssertionError("a delivery did not verify", e);
                }
                WebhookEvent event = (WebhookEvent) r;
                if (jobId.equals(event.jobId())) {
                    return event;
                }
            }
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    @Test
    void anEmbeddingsJobIsDeliveredSignedToAReceiver() throws Exception {
        DevPlatform dev = DevPlatform.get();
        try (Receiver receiver = new Receiver(); DataClient data = dev.data();
                Endpoint ep = data.endpoint(DevPlatform.EMBED, dev.apiKey)) {
            JsonNode destination = dev.addWebhook(DevPlatform.EMBED, receiver.url());
            String id = destination.path("id").asText();
            try {
                String secret = destination.path("secret").asText();
                assertTrue(secret.startsWith("whsec_"), "a destination secret");
                receiver.secret = secret;
                JobRef job = ep.submitJob(JobRequest.builder().kind(JobKind.EMBEDDINGS)
                        .body(Map.of("input", List.of("refund my order", "where is my parcel")))
                        .context(Map.of("order", 42, "note", "é")).build());
                assertEquals(JobKind.EMBEDDINGS, job.kind());
                assertFalse(job.jobId().isEmpty());
                assertNotNull(job.requestId());

                WebhookEvent event = receiver.eventOf(job.jobId(), Duration.ofMinutes(3));
                assertEquals("job.completed", event.event());
                assertEquals(42, event.context().path("order").asInt());
                assertEquals("é", event.context().path("note").asText());
                assertEquals("completed", event.data().status());
                assertEquals(job.jobId(), event.data().jobId());
                JsonNode vectors = event.data().output().path("data");
                assertEquals(2, vectors.size());
                for (JsonNode v : vectors) {
                    JsonNode embedding = v.path("embedding");
                    assertEquals(384, embedding.size());
                    embedding.forEach(x -> assertTrue(x.isNumber(), x.toString()));
                }
                assertTrue(event.ts() > 0);

                // The same delivery, verified against another destination's secret, is refused.
                receiver.secret = "whsec_" + "0".repeat(64);
                JobRef second = ep.submitJobAsync(JobRequest.builder().kind("embeddings")
                        .body(Map.of("input", List.of("x"))).build()).get(3, TimeUnit.MINUTES);
                Object refused = receiver.received.poll(3, TimeUnit.MINUTES);
                assertInstanceOf(WebhookSignatureException.class, refused, String.valueOf(refused));
                assertEquals(ErrorCodes.WEBHOOK_SIGNATURE_MISMATCH, ((InferenceKeyException) refused).code());
                assertFalse(second.jobId().equals(job.jobId()));
            } finally {
                dev.removeWebhook(DevPlatform.EMBED, id);
            }
        }
    }

    @Test
    void anAliasIsSentAndReportedAsTheWireName() throws Exception {
        DevPlatform dev = DevPlatform.get();
        try (DataClient data = dev.data(); Endpoint ep = data.endpoint(DevPlatform.RERANK, dev.apiKey)) {
            JobRef job = ep.submitJobAsync(JobRequest.builder().kind("reranking")
                    .body(Map.of("query", "capital of France", "documents", List.of("Paris", "Bananas")))
                    .build(), RequestOptions.builder().timeout(Duration.ofMinutes(1)).build()).get(2, TimeUnit.MINUTES);
            assertEquals(JobKind.RERANK, job.kind());
            assertFalse(job.jobId().isEmpty());
        }
    }

    @Test
    void theRealPlatformRefusesWhatOnlyItCanJudge() {
        DevPlatform dev = DevPlatform.get();
        try (DataClient data = dev.data(); Endpoint ep = data.endpoint(DevPlatform.EMBED, dev.apiKey)) {
            // A kind the local platform does not run.
            ApiException unsupported = assertThrows(ApiException.class, () -> ep.submitJob(JobRequest.builder()
                    .kind(JobKind.FORECAST).body(Map.of("series", List.of(1, 2))).build()));
            assertEquals(501, unsupported.statusCode());
            // Bytes the embeddings route does not take.
            ValidationException badBytes = assertThrows(ValidationException.class, () -> ep.submitJob(JobRequest
                    .builder().kind(JobKind.EMBEDDINGS).body(new byte[] {1, 2, 3}, "text/plain").build()));
            assertEquals(400, badBytes.statusCode());
            // The chat route on an embedding workload.
            ValidationException mismatch = assertThrows(ValidationException.class, () -> ep.submitJob(JobRequest
                    .builder().kind(JobKind.CHAT).body(Map.of("messages", List.of(Map.of("role", "user",
                            "content", "Hi")))).build()));
            assertEquals(400, mismatch.statusCode());
        }
    }
}
