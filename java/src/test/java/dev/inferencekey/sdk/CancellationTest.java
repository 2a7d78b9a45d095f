package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Cancelling a future and interrupting a blocking call stop the call in the library, and the
 * upstream server sees its connection close. The upstream is a fake that never answers: a
 * real model answers too fast to be caught mid-call reliably.
 */
class CancellationTest {
    private static final String KEY =
            "ik_live_9f8e7d6c_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    private static final long NANOS_PER_MS = 1_000_000;

    private static DataClient data(String baseUrl) {
        return DataClient.create(ClientOptions.builder().baseUrl(baseUrl).project("acme").apiKey(KEY)
                .timeout(Duration.ofSeconds(30)).maxRetries(0).build());
    }

    private static final TextRequest HI = TextRequest.builder().prompt("Hi").build();

    @Test
    void cancellingAFutureClosesTheUpstreamConnection() throws Exception {
        try (SilentServer s = new SilentServer(); DataClient d = data(s.baseUrl()); Endpoint ep = d.endpoint("bot")) {
            CompletableFuture<TextResult> f = ep.generateTextAsync(HI);
            assertNotNull(s.accepted.poll(5, TimeUnit.SECONDS), "the request reached the server");
            Thread.sleep(50); // let the request be written
            long t0 = System.nanoTime();
            assertTrue(f.cancel(true));
            Long closed = s.closes.poll(5, TimeUnit.SECONDS);
            assertNotNull(closed, "the server saw the connection close");
            long ms = (closed - t0) / NANOS_PER_MS;
            assertTrue(ms < 100, "closed " + ms + " ms after cancel");
            assertThrows(CancellationException.class, f::join);
        }
    }

    @Test
    void interruptingABlockingCallStopsIt() throws Exception {
        try (SilentServer s = new SilentServer(); DataClient d = data(s.baseUrl()); Endpoint ep = d.endpoint("bot")) {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
            AtomicReference<Long> returned = new AtomicReference<>();
            Thread caller = new Thread(() -> {
                try {
                    ep.generateText(HI);
                } catch (Throwable t) {
                    returned.set(System.nanoTime());
                    thrown.set(t);
                    stillInterrupted.set(Thread.currentThread().isInterrupted());
                }
            });
            caller.start();
            assertNotNull(s.accepted.poll(5, TimeUnit.SECONDS));
            Thread.sleep(50);
            long t0 = System.nanoTime();
            caller.interrupt();
            caller.join(5000);
            CancelledException e = assertInstanceOf(CancelledException.class, thrown.get());
            assertEquals("interrupted", e.code());
            assertTrue(stillInterrupted.get(), "the thread's interrupt status is kept");
            long ms = (returned.get() - t0) / NANOS_PER_MS;
            Long closed = s.closes.poll(5, TimeUnit.SECONDS);
            assertNotNull(closed, "the server saw the connection close");
            // The library polls the interrupt check every 50 ms (CHECK_INTERVAL in the core).
            assertTrue(ms < 100, "returned " + ms + " ms after the interrupt");
            System.out.println("interrupt: returned after " + ms + " ms, upstream closed after "
                    + (closed - t0) / NANOS_PER_MS + " ms");
        }
    }

    @Test
    void closingAStreamWakesItsBlockedReader() throws Exception {
        // Fake: a chat stream that sends one chunk, then nothing.
        String chunk = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":"
                + "[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
        CountDownLatch release = new CountDownLatch(1);
        try (FakeServer s = new FakeServer(ex -> {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, 0);
            ex.getResponseBody().write(chunk.getBytes(StandardCharsets.UTF_8));
            ex.getResponseBody().flush();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        })) {
            try (DataClient d = data(s.baseUrl()); Endpoint ep = d.endpoint("bot")) {
                readAndClose(ep);
            } finally {
                release.countDown(); // before the server stops
            }
        }
    }

    private static void readAndClose(Endpoint ep) throws Exception {
        TextStream stream = ep.generateTextStream(HI);
        assertEquals("Hel", stream.next().text());
        CompletableFuture<Throwable> reader = CompletableFuture.supplyAsync(() -> {
            try {
                stream.hasNext();
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Thread.sleep(100);
        long t0 = System.nanoTime();
        stream.close();
        Throwable t = reader.get(5, TimeUnit.SECONDS);
        long ms = (System.nanoTime() - t0) / NANOS_PER_MS;
        assertInstanceOf(CancelledException.class, t);
        assertTrue(ms < 100, "woke " + ms + " ms after close");
        stream.close();
        assertThrows(InvalidStateException.class, stream::hasNext);
    }

    @Test
    void cancellingAnAsyncReadinessWaitStopsIt() throws Exception {
        try (SilentServer s = new SilentServer(); ManagementClient m = ManagementClient.create(ClientOptions.builder()
                .baseUrl(s.baseUrl()).project("acme")
                .sdkToken("ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
                .build())) {
            CompletableFuture<ReadinessEvent> f = m.waitUntilReadyAsync("bot", Duration.ofMinutes(1), e -> { });
            assertNotNull(s.accepted.poll(5, TimeUnit.SECONDS));
            f.cancel(true);
            assertNotNull(s.closes.poll(2, TimeUnit.SECONDS), "the server saw the connection close");
        }
    }
}
