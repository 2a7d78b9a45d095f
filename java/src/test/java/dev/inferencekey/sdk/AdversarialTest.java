package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Broken servers, bad input, use after close, and where the library's threads may not go. */
class AdversarialTest {
    private static final String KEY =
            "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    private static DataClient data(String baseUrl) {
        return DataClient.create(ClientOptions.builder().baseUrl(baseUrl).project("acme").apiKey(KEY).maxRetries(0)
                .timeout(Duration.ofSeconds(5)).build());
    }

    @Test
    void anUndecodableAnswerIsAnApiError() throws Exception {
        // Fake: a 200 whose body is not JSON.
        try (FakeServer s = FakeServer.answering(200, "{\"choices\": [", Map.of()); DataClient d = data(s.baseUrl());
                Endpoint ep = d.endpoint("bot")) {
            ApiException e = assertThrows(ApiException.class, () -> ep.generateText(TextRequest.builder().prompt("x").build()));
            assertEquals(200, e.statusCode());
        }
    }

    @Test
    void anAnswerCutShortIsAConnectionError() throws Exception {
        // Fake: Content-Length promises more than the server sends before closing.
        try (FakeServer s = new FakeServer(ex -> {
            ex.sendResponseHeaders(200, 1000);
            ex.getResponseBody().write("{\"id\":\"x\",".getBytes(StandardCharsets.UTF_8));
            ex.getResponseBody().flush();
            ex.close();
        }); DataClient d = data(s.baseUrl()); Endpoint ep = d.endpoint("bot")) {
            assertThrows(ApiConnectionException.class, () -> ep.generateText(TextRequest.builder().prompt("x").build()));
        }
    }

    @Test
    void badInputIsATypedErrorBeforeAnyRequest() throws Exception {
        try (SilentServer s = new SilentServer(); DataClient d = data(s.baseUrl()); Endpoint ep = d.endpoint("bot")) {
            assertThrows(ValidationException.class, () -> ep.generateText(TextRequest.builder().build()));
            assertThrows(ValidationException.class, () -> ep.rerank(RerankRequest.of("", List.of("a"))));
            assertThrows(NullPointerException.class, () -> ep.embed((EmbedRequest) null));
            assertThrows(InferenceKeyException.class, () -> d.endpoint("Bad Slug"));
            assertTrue(s.accepted.isEmpty(), "nothing was sent");
        }
        try (DataClient d = DataClient.create(ClientOptions.builder().baseUrl("http://127.0.0.1:1").project("acme")
                .apiKey("not-a-key").build())) {
            assertThrows(AuthenticationException.class, () -> d.endpoint("bot"), "not an InferenceKey token");
        }
        assertThrows(ConfigurationException.class, () -> DataClient.create(ClientOptions.builder()
                .baseUrl("http://127.0.0.1:1").project("acme").timeout(Duration.ofSeconds(-1)).build()));
    }

    @Test
    void nonAsciiTextTravelsAsUtf8() throws Exception {
        // Fake: answers with non-ASCII text.
        String prompt = "¿Qué tal? 你好 🌍";
        try (FakeServer s = new FakeServer(ex -> {
            byte[] body = ("{\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                    + "\"content\":\"" + prompt + "\"},\"finish_reason\":\"stop\"}]}").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
        }); DataClient d = data(s.baseUrl()); Endpoint ep = d.endpoint("bot")) {
            TextResult r = ep.generateText(TextRequest.builder().prompt(prompt).build());
            assertEquals(prompt, r.text());
            assertTrue(r.raw().contains(prompt));
        }
    }

    @Test
    void useAfterCloseAndDoubleClose() {
        DataClient d = data("http://127.0.0.1:1");
        Endpoint ep = d.endpoint("bot");
        d.close();
        d.close();
        assertThrows(InvalidStateException.class, () -> d.endpoint("bot"));
        ep.close();
        ep.close();
        assertThrows(InvalidStateException.class, () -> ep.generateText(TextRequest.builder().prompt("x").build()));
        assertThrows(InvalidStateException.class, () -> ep.embedAsync(EmbedRequest.of("x")));
        assertEquals("Endpoint[closed]", ep.toString());
    }

    @Test
    void anEndpointClosedDuringACallIsFreedOnlyAfterIt() throws Exception {
        // Fake: a server that never answers keeps the call in flight.
        try (SilentServer s = new SilentServer(); DataClient d = DataClient.create(ClientOptions.builder()
                .baseUrl(s.baseUrl()).project("acme").apiKey(KEY).maxRetries(0).timeout(Duration.ofSeconds(1)).build())) {
            Endpoint ep = d.endpoint("bot");
            int live = endpoints();
            CompletableFuture<Throwable> call = CompletableFuture.supplyAsync(() -> {
                try {
                    ep.generateText(TextRequest.builder().prompt("x").build());
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            s.accepted.poll(5, TimeUnit.SECONDS);
            ep.close();
            assertTrue(endpoints() >= live, "not freed while the call runs");
            assertThrows(InvalidStateException.class, () -> ep.embed("x"), "but closed to new calls");
            assertInstanceOf(ApiTimeoutException.class, call.get(10, TimeUnit.SECONDS));
            assertTrue(endpoints() <= live - 1, "freed when the call returned");
        }
    }

    @SuppressWarnings("unchecked")
    private static int endpoints() {
        return ((Number) ((Map<String, Object>) Ffi.liveObjects().get("handles")).get("ik_endpoint")).intValue();
    }

    @Test
    void aMismatchedLibraryIsRefusedNamingBothVersionsAndThePath() {
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> Ffi.checkAbi(2, "/opt/lib/libinferencekey.so"));
        assertTrue(e.getMessage().contains("ABI 2") && e.getMessage().contains("ABI 3")
                && e.getMessage().contains("/opt/lib/libinferencekey.so"), e.getMessage());
        Ffi.checkAbi(3, Ffi.PATH);
    }

    @Test
    void userCodeNeverRunsOnTheLibrarysThreads() throws Exception {
        DevPlatform dev = DevPlatform.get();
        try (ManagementClient m = dev.management()) {
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            List<CompletableFuture<?>> futures = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                futures.add(m.getAsync(DevPlatform.CHAT).thenAccept(w -> threads.add(Thread.currentThread().getName())));
            }
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            assertEquals(200, threads.size());
            assertFalse(threads.contains("inferencekey-callbacks"), "a stage ran on the delivery thread");
            // JNA keeps one attached Java thread for the library's delivery thread, not one per callback.
            long callbackThreads = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("inferencekey-callbacks")).count();
            assertEquals(1, callbackThreads);
            assertTrue(Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("inferencekey-callbacks"))
                    .allMatch(Thread::isDaemon), "the callback thread does not keep the JVM alive");
        }
    }

    @Test
    void aFailedAsyncCallFailsItsFuture() {
        try (DataClient d = data("http://127.0.0.1:1"); Endpoint ep = d.endpoint("bot")) {
            CompletableFuture<EmbedResult> f = ep.embedAsync(EmbedRequest.of("x"));
            CompletionException e = assertThrows(CompletionException.class, f::join);
            assertInstanceOf(ApiConnectionException.class, e.getCause());
            assertNotEquals(0, e.getCause().getMessage().length());
        }
    }
}
