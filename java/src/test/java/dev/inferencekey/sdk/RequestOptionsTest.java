package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.Headers;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Per-call {@link RequestOptions} and {@code withOptions}: each option takes effect, bad ones are refused. */
class RequestOptionsTest {
    private static final String KEY =
            "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    private static final String SDK_TOKEN =
            "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    private static final String EMBEDDINGS = "{\"object\":\"list\",\"model\":\"m\",\"data\":[{\"object\":\"embedding\","
            + "\"index\":0,\"embedding\":[0.5,0.25]}],\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}";

    /** Fake: answers every request with {@code status}/{@code body} and keeps each request's headers. */
    private static final class RecordingServer implements AutoCloseable {
        final BlockingQueue<Headers> requests = new LinkedBlockingQueue<>();
        private final FakeServer server;

        RecordingServer(int status, String body, Map<String, String> headers) throws Exception {
            server = new FakeServer(ex -> {
                requests.add(ex.getRequestHeaders());
                FakeServer.send(ex, status, body, headers);
            });
        }

        String baseUrl() {
            return server.baseUrl();
        }

        /** The headers of the next request. */
        Headers next() throws InterruptedException {
            Headers h = requests.poll(30, TimeUnit.SECONDS);
            assertTrue(h != null, "a request arrived");
            return h;
        }

        @Override
        public void close() {
            server.close();
        }
    }

    private static ClientOptions.Builder options(String baseUrl) {
        return ClientOptions.builder().baseUrl(baseUrl).project("acme").apiKey(KEY).sdkToken(SDK_TOKEN)
                .timeout(Duration.ofSeconds(30));
    }

    private static RequestOptions header(String name, String value) {
        return RequestOptions.builder().header(name, value).build();
    }

    @Test
    void extraHeadersReachTheServer() throws Exception {
        try (RecordingServer s = new RecordingServer(200, EMBEDDINGS, Map.of());
                DataClient d = DataClient.create(options(s.baseUrl())
                        .defaultHeaders(Map.of("X-Default", "client", "X-Dropped", "client")).build());
                Endpoint ep = d.endpoint("bot")) {
            ep.embed(EmbedRequest.of("x"), header("X-Call", "blocking"));
            Headers h = s.next();
            assertEquals("blocking", h.getFirst("X-Call"));
            assertEquals("client", h.getFirst("X-Default"), "a call's headers add to the client's");

            ep.embedAsync(EmbedRequest.of("x"), RequestOptions.builder().header("X-Default", "call")
                    .removeHeader("X-Dropped").build()).get(30, TimeUnit.SECONDS);
            h = s.next();
            assertEquals("call", h.getFirst("X-Default"), "a call's header overrides the client's");
            assertNull(h.getFirst("X-Dropped"), "removeHeader drops a client default");

            ep.embed(EmbedRequest.of("x"));
            h = s.next();
            assertNull(h.getFirst("X-Call"), "per-call headers do not stick");
            assertEquals("client", h.getFirst("X-Dropped"));

            try (Endpoint derived = ep.withOptions(header("X-Endpoint", "derived"))) {
                derived.embed(EmbedRequest.of("x"), header("X-Call", "both"));
                h = s.next();
                assertEquals("derived", h.getFirst("X-Endpoint"));
                assertEquals("both", h.getFirst("X-Call"));
                try (Endpoint again = derived.withOptions(header("X-Endpoint", "again"))) {
                    again.embed(EmbedRequest.of("x"));
                    assertEquals("again", s.next().getFirst("X-Endpoint"), "a later withOptions wins");
                }
            }
            ep.embed(EmbedRequest.of("x"));
            assertNull(s.next().getFirst("X-Endpoint"), "the original endpoint keeps its defaults");

            try (DataClient d2 = d.withOptions(header("X-Client", "derived")); Endpoint ep2 = d2.endpoint("bot")) {
                ep2.embed(EmbedRequest.of("x"));
                h = s.next();
                assertEquals("derived", h.getFirst("X-Client"));
                assertEquals("client", h.getFirst("X-Default"), "withOptions merges over the defaults");
            }
        }
        // Management: the same through the control plane (a 404 answer; the headers were sent).
        try (RecordingServer s = new RecordingServer(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no\"}}",
                Map.of()); ManagementClient m = ManagementClient.create(options(s.baseUrl()).build())) {
            assertThrows(NotFoundException.class, () -> m.get("bot", header("X-Call", "get")));
            assertEquals("get", s.next().getFirst("X-Call"));
            CompletionException e = assertThrows(CompletionException.class,
                    () -> m.getAsync("bot", header("X-Call", "async")).join());
            assertInstanceOf(NotFoundException.class, e.getCause());
            assertEquals("async", s.next().getFirst("X-Call"));
            try (ManagementClient m2 = m.withOptions(header("X-Client", "derived"))) {
                assertThrows(NotFoundException.class, () -> m2.get("bot"));
                assertEquals("derived", s.next().getFirst("X-Client"));
            }
            assertThrows(NotFoundException.class, () -> m.get("bot"));
            assertNull(s.next().getFirst("X-Client"), "the original client keeps its defaults");
        }
    }

    @Test
    void maxRetriesZeroMakesOneAttempt() throws Exception {
        // Fake: a platform that answers 503 (with Retry-After: 0, so retries come at once).
        AtomicInteger attempts = new AtomicInteger();
        try (FakeServer s = new FakeServer(ex -> {
            attempts.incrementAndGet();
            FakeServer.send(ex, 503, "{\"error\":{\"code\":\"unavailable\",\"message\":\"busy\"}}",
                    Map.of("Retry-After", "0"));
        }); ManagementClient m = ManagementClient.create(options(s.baseUrl()).maxRetries(2).build())) {
            assertThrows(InternalServerException.class, () -> m.get("bot"));
            assertEquals(3, attempts.getAndSet(0), "the client's own setting: two retries");

            assertThrows(InternalServerException.class, () -> m.get("bot", RequestOptions.builder().maxRetries(0).build()));
            assertEquals(1, attempts.getAndSet(0), "maxRetries(0): one attempt");

            CompletionException e = assertThrows(CompletionException.class,
                    () -> m.listAsync(RequestOptions.builder().maxRetries(1).build()).join());
            assertInstanceOf(InternalServerException.class, e.getCause());
            assertEquals(2, attempts.getAndSet(0), "maxRetries(1): two attempts");

            try (ManagementClient once = m.withOptions(RequestOptions.builder().maxRetries(0).build())) {
                assertThrows(InternalServerException.class, () -> once.get("bot"));
                assertEquals(1, attempts.getAndSet(0), "withOptions(maxRetries(0)): one attempt");
            }
        }
    }

    @Test
    void aTinyTimeoutTimesOut() throws Exception {
        // Fake: a server that never answers; the client's own timeout (30 s) would outlast the test's patience.
        try (SilentServer s = new SilentServer();
                DataClient d = DataClient.create(options(s.baseUrl()).maxRetries(0).build());
                Endpoint ep = d.endpoint("bot");
                ManagementClient m = ManagementClient.create(options(s.baseUrl()).maxRetries(0).build())) {
            RequestOptions tiny = RequestOptions.builder().timeout(Duration.ofMillis(200)).build();
            long start = System.nanoTime();
            assertThrows(ApiTimeoutException.class, () -> ep.generateText(TextRequest.builder().prompt("x").build(), tiny));
            CompletionException e = assertThrows(CompletionException.class,
                    () -> ep.embedAsync(EmbedRequest.of("x"), tiny).join());
            assertInstanceOf(ApiTimeoutException.class, e.getCause());
            assertThrows(ApiTimeoutException.class, () -> m.list(tiny));
            try (Endpoint quick = ep.withOptions(tiny); DataClient dq = d.withOptions(tiny);
                    Endpoint viaClient = dq.endpoint("bot")) {
                assertThrows(ApiTimeoutException.class, () -> quick.rerank(RerankRequest.of("q", List.of("a"))));
                assertThrows(ApiTimeoutException.class, () -> viaClient.embed("x"));
            }
            // Generous: five timeouts of 200 ms, far below the client's 30 s each.
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(25), "each call used the short timeout");
        }
    }

    @Test
    void theRealPlatformHonoursTheOptions() {
        DevPlatform dev = DevPlatform.get();
        RequestOptions valid = RequestOptions.builder().timeout(Duration.ofMinutes(2)).connectTimeout(Duration.ofSeconds(5))
                .maxRetries(0).header("X-Request-Source", "java-test").build();
        try (DataClient d = dev.data(); Endpoint ep = d.endpoint(DevPlatform.EMBED);
                Endpoint chat = d.endpoint(DevPlatform.CHAT).withOptions(valid)) {
            assertEquals(2, ep.embed(EmbedRequest.of("a", "b"), valid).embeddings().size());
            try (TextStream stream = chat.generateTextStream(TextRequest.builder().prompt("Hi").maxTokens(4).build(),
                    valid)) {
                assertTrue(stream.hasNext(), "a streamed answer with options");
            }
            // 1 ms cannot fit a real HTTP exchange with a model behind it.
            RequestOptions tiny = RequestOptions.builder().timeout(Duration.ofMillis(1)).maxRetries(0).build();
            assertThrows(ApiTimeoutException.class, () -> ep.embed(EmbedRequest.of("a"), tiny));
        }
        ManagementClient m = dev.management();
        assertEquals(DevPlatform.CHAT, m.get(DevPlatform.CHAT, valid).slug());
        assertEquals("ready", m.waitUntilReady(DevPlatform.CHAT, Duration.ofMinutes(1), null, valid).phase());
        assertEquals(EnsureAction.UNCHANGED, m.ensure(DevPlatform.chatSpec(), EnsureOptions.DEFAULT, valid).action());
        assertEquals(EnsureAction.UNCHANGED, m.ensureAsync(DevPlatform.chatSpec(), valid).join().action());
        assertEquals("ready", m.waitUntilReady(DevPlatform.CHAT, valid).phase());
        try (ManagementClient m2 = m.withOptions(valid)) {
            m.close();
            assertEquals(DevPlatform.CHAT, m2.get(DevPlatform.CHAT).slug(), "a derived client outlives its origin");
        }
    }

    @Test
    void aDerivedEndpointSharesTheNativeEndpointUntilBothAreClosed() throws Exception {
        try (DataClient d = DataClient.create(options("http://127.0.0.1:1").build())) {
            int before = endpoints();
            Endpoint ep = d.endpoint("bot");
            Endpoint derived = ep.withOptions(RequestOptions.builder().maxRetries(0).build());
            assertEquals(before + 1, endpoints(), "one native endpoint for both");
            ep.close();
            assertThrows(InvalidStateException.class, () -> ep.embed("x"));
            assertThrows(InvalidStateException.class, () -> ep.withOptions(RequestOptions.NONE));
            assertThrows(ApiConnectionException.class, () -> derived.embed("x"), "the derived one still calls");
            assertEquals(before + 1, endpoints());
            derived.close();
            derived.close();
            assertEquals(before, endpoints(), "freed once both are closed");
            assertEquals("Endpoint[closed]", derived.toString());
        }
    }

    @Test
    void badOptionsAreTypedErrorsBeforeAnyRequest() throws Exception {
        try (SilentServer s = new SilentServer(); DataClient d = DataClient.create(options(s.baseUrl()).build());
                Endpoint ep = d.endpoint("bot"); ManagementClient m = ManagementClient.create(options(s.baseUrl()).build())) {
            Map<String, RequestOptions> bad = new HashMap<>();
            bad.put("invalid_option:negative", RequestOptions.builder().timeout(Duration.ofSeconds(-1)).build());
            bad.put("invalid_option:zero", RequestOptions.builder().timeout(Duration.ZERO).build());
            bad.put("invalid_option:connect", RequestOptions.builder().connectTimeout(Duration.ofMillis(-5)).build());
            bad.put("invalid_option:retries", RequestOptions.builder().maxRetries(11).build());
            bad.put("invalid_option:retries<0", RequestOptions.builder().maxRetries(-1).build());
            bad.put("invalid_header:crlf-name", header("X-Evil\r\nInjected", "1"));
            bad.put("invalid_header:crlf-value", header("X-Evil", "1\r\nInjected: " + SDK_TOKEN));
            bad.put("invalid_header:authorization", header("Authorization", "Bearer " + SDK_TOKEN));
            bad.put("invalid_header:host", header("host", "example.com"));
            bad.put("invalid_header:empty", header("", "1"));
            for (Map.Entry<String, RequestOptions> c : bad.entrySet()) {
                String code = c.getKey().substring(0, c.getKey().indexOf(':'));
                RequestOptions o = c.getValue();
                Map<String, Executable> uses = Map.of(
                        "per-call endpoint", () -> ep.embed(EmbedRequest.of("x"), o),
                        "per-call async", () -> joinCause(ep.rerankAsync(RerankRequest.of("q", List.of("a")), o)::join),
                        "per-call stream", () -> ep.generateTextStream(TextRequest.builder().prompt("x").build(), o)
                                .close(),
                        "per-call management", () -> m.list(o),
                        "per-call ensure", () -> m.ensure(DevPlatform.chatSpec(), EnsureOptions.DEFAULT, o),
                        "per-call wait", () -> m.waitUntilReady("bot", Duration.ofSeconds(5), null, o),
                        "per-call async wait", () -> joinCause(m.waitUntilReadyAsync("bot", Duration.ofSeconds(5),
                                e -> {}, o)::join),
                        "endpoint withOptions", () -> {
                            try (Endpoint e = ep.withOptions(o)) {
                                e.embed("x");
                            }
                        },
                        "management withOptions", () -> m.withOptions(o).close(),
                        "data withOptions", () -> d.withOptions(o).close());
                for (Map.Entry<String, Executable> use : uses.entrySet()) {
                    ConfigurationException e = assertThrows(ConfigurationException.class, use.getValue(),
                            c.getKey() + " via " + use.getKey());
                    assertEquals(code, e.code(), c.getKey() + " via " + use.getKey());
                    assertFalse(e.getMessage().contains(SDK_TOKEN.substring(16)), "no header value in " + e.getMessage());
                    assertFalse(e.getMessage().contains("Injected:"), e.getMessage());
                }
            }
            assertTrue(s.accepted.isEmpty(), "nothing was sent");
            assertThrows(NullPointerException.class, () -> ep.embed(EmbedRequest.of("x"), null));
            assertThrows(NullPointerException.class, () -> RequestOptions.builder().header(null, "x"));
        }
    }

    @Test
    void toStringShowsHeaderNamesOnly() {
        RequestOptions o = RequestOptions.builder().timeout(Duration.ofSeconds(3)).header("X-Api-Key", SDK_TOKEN)
                .removeHeader("X-Old").build();
        assertTrue(o.toString().contains("X-Api-Key") && o.toString().contains("X-Old"), o.toString());
        assertFalse(o.toString().contains("ik_sdk_"), o.toString());
        assertEquals(o, o.toBuilder().build());
        RequestOptions merged = RequestOptions.builder().maxRetries(1).header("X-Old", "v").build().over(o);
        assertEquals(Duration.ofSeconds(3), merged.timeout());
        assertEquals(1, merged.maxRetries());
        assertEquals("v", merged.headers().get("X-Old"));
    }

    /** Runs {@code join} and rethrows the cause of its {@link CompletionException}. */
    private static void joinCause(Executable join) throws Throwable {
        try {
            join.execute();
        } catch (CompletionException e) {
            throw e.getCause();
        }
    }

    @SuppressWarnings("unchecked")
    private static int endpoints() {
        return ((Number) ((Map<String, Object>) Ffi.liveObjects().get("handles")).get("ik_endpoint")).intValue();
    }
}
