package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import dev.inferencekey.sdk.internal.SizeT;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The library's log records reach {@link System.Logger} {@code dev.inferencekey.sdk}, here
 * through its default backend, {@code java.util.logging}: at the mapped level, from the SDK's
 * own logging thread, redacted, and produced only for the levels the logger has enabled.
 */
class CoreLogTest {
    /** Kept strongly: java.util.logging holds its loggers weakly, and a collected one forgets its level. */
    private static final Logger JUL = Logger.getLogger(CoreLog.LOGGER_NAME);

    /** What a handler saw: the record and the thread it was published on. */
    private record Seen(LogRecord record, String thread) {
        String message() {
            return record.getMessage();
        }
    }

    private final List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            seen.add(new Seen(r, Thread.currentThread().getName()));
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };
    private Level before;

    @BeforeEach
    void capture() throws InterruptedException {
        assertTrue(CoreLog.flush(10, TimeUnit.SECONDS), "records of earlier tests are out");
        before = JUL.getLevel();
        JUL.addHandler(capture);
    }

    @AfterEach
    void release() {
        JUL.removeHandler(capture);
        JUL.setLevel(before);
    }

    private List<Seen> flushed() throws InterruptedException {
        assertTrue(CoreLog.flush(10, TimeUnit.SECONDS), "the log queue drained");
        synchronized (seen) {
            return new ArrayList<>(seen);
        }
    }

    @Test
    void recordsOfARealCallArriveAtTheirLevelsOnTheSdksThread() throws Exception {
        DevPlatform dev = DevPlatform.get();
        JUL.setLevel(Level.ALL);
        try (ManagementClient m = dev.management()) {
            m.ensure(DevPlatform.chatSpec());
        }
        List<Seen> records = flushed();
        assertTrue(records.stream().anyMatch(s -> s.record().getLevel() == Level.FINE
                && s.message().contains("/workloads")), "an HTTP attempt at DEBUG (FINE): " + messages(records));
        assertTrue(records.stream().anyMatch(s -> s.record().getLevel() == Level.INFO
                && s.message().contains("ensure") && s.message().contains(DevPlatform.CHAT)),
                "the ensure decision at INFO: " + messages(records));
        assertTrue(records.stream().allMatch(s -> s.thread().equals("inferencekey-log-writer")),
                "published on the SDK's logging thread, never the library's: "
                        + records.stream().map(Seen::thread).distinct().toList());
        assertTrue(records.stream().allMatch(s -> s.record().getLoggerName().equals("dev.inferencekey.sdk")));
        assertEquals(4, CoreLog.pushedLevel(), "the library was asked for DEBUG");
    }

    @Test
    void levelsTheLoggerDisablesAreNotProduced() throws Exception {
        DevPlatform dev = DevPlatform.get();
        JUL.setLevel(Level.WARNING);
        try (ManagementClient m = dev.management()) {
            m.get(DevPlatform.CHAT);
            assertEquals(2, CoreLog.pushedLevel(), "the library was asked for WARNING and above only");
            assertTrue(flushed().isEmpty(), "no debug or info record");
            JUL.setLevel(Level.FINE);
            m.get(DevPlatform.CHAT);
            assertEquals(4, CoreLog.pushedLevel(), "a level raised later takes effect at the next call");
            assertTrue(flushed().stream().anyMatch(s -> s.record().getLevel() == Level.FINE));
            JUL.setLevel(Level.OFF);
            seen.clear();
            m.get(DevPlatform.CHAT);
            assertEquals(0, CoreLog.pushedLevel(), "logging off in the library");
            assertTrue(flushed().isEmpty());
        }
    }

    @Test
    void aTokenNeverReachesTheLogger() throws Exception {
        DevPlatform dev = DevPlatform.get();
        JUL.setLevel(Level.ALL);
        try (ManagementClient m = dev.management(); DataClient d = dev.data(); Endpoint ep = d.endpoint(DevPlatform.EMBED)) {
            m.list();
            ep.embed("x");
        }
        String sdk = "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        // Fake: a hostile server that echoes a token in its error messages, which the library logs.
        try (FakeServer s = FakeServer.answering(409, "{\"error\":{\"code\":\"conflict\",\"message\":\"token " + sdk
                + " and key " + dev.apiKey + " clash\"}}", Map.of());
                ManagementClient m = ManagementClient.create(ClientOptions.builder().baseUrl(s.baseUrl()).project("acme")
                        .sdkToken(sdk).maxRetries(0).timeout(Duration.ofSeconds(30)).build())) {
            assertThrows(InferenceKeyException.class, () -> m.ensure(WorkloadSpec.builder().name("Bot").slug("bot")
                    .model("m").backend(Backend.VLLM).build()));
        }
        List<Seen> records = flushed();
        assertTrue(records.stream().anyMatch(r -> r.message().contains("clash")),
                "the hostile message was logged: " + messages(records));
        for (String secret : List.of(dev.sdkToken, dev.apiKey, sdk)) {
            String tail = secret.substring(secret.length() - 24);
            for (Seen r : records) {
                assertFalse(r.message().contains(tail), "a token in a log record: " + r.message());
            }
        }
    }

    @Test
    void aFullQueueDropsRecordsAndSaysHowMany() throws Exception {
        JUL.setLevel(Level.ALL);
        CountDownLatch blocked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Handler slow = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getMessage().equals("hold")) {
                    blocked.countDown();
                    try {
                        release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        JUL.addHandler(slow);
        try {
            deliver(3, "hold");
            assertTrue(blocked.await(10, TimeUnit.SECONDS), "the logging thread is held by a slow handler");
            long start = System.nanoTime();
            for (int i = 0; i < 1500; i++) {
                deliver(3, "record " + i);
            }
            // The callback never waits for the logger (generous bound: 1,500 copies).
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
            release.countDown();
            List<Seen> records = flushed();
            assertTrue(records.stream().anyMatch(s -> s.record().getLevel() == Level.WARNING
                    && s.message().matches("\\d+ log records of the InferenceKey library were dropped.*")),
                    "the drop was noted");
            long kept = records.stream().filter(s -> s.message().startsWith("record ")).count();
            assertTrue(kept >= 1000 && kept < 1500, kept + " records kept");
        } finally {
            release.countDown();
            JUL.removeHandler(slow);
        }
    }

    @Test
    void aBrokenRecordIsSkipped() throws Exception {
        JUL.setLevel(Level.ALL);
        deliver(3, null);
        deliver(9, "a level the ABI does not have");
        deliver(3, "after");
        List<Seen> records = flushed();
        assertEquals(List.of("after"), messages(records));
    }

    /** Calls the log callback as the library does, from this (non-library) thread. */
    private static void deliver(int level, String message) {
        String json = message == null ? "{not json" : Json.MAPPER.valueToTree(Map.of("target", "inferencekey.http",
                "message", message, "fields", Map.of())).toString();
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        try (Memory m = new Memory(b.length + 1L)) {
            m.write(0, b, 0, b.length);
            m.setByte(b.length, (byte) 0);
            CoreLog.CALLBACK.invoke(null, level, m, new SizeT(b.length));
        }
    }

    private static List<String> messages(List<Seen> records) {
        return records.stream().map(Seen::message).toList();
    }
}
