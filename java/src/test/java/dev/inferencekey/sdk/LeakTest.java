package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * No growth over 10k calls against the real platform (successes, errors, async, handles made
 * and closed): the library's live handles and buffers come back to where they were, and the
 * process's RSS stays flat. Also: the {@link java.lang.ref.Cleaner} frees what was never closed.
 */
class LeakTest {
    private static final int CALLS = 10_000;

    @Test
    void tenThousandCallsLeakNothing() throws Exception {
        DevPlatform dev = DevPlatform.get();
        try (ManagementClient mgmt = dev.management(); DataClient data = dev.data()) {
            round(mgmt, data, 1_000); // warm-up: pools, JIT, allocator arenas
            Map<String, Object> before = Ffi.liveObjects();
            long rssBefore = rssKb();
            round(mgmt, data, CALLS);
            Map<String, Object> after = Ffi.liveObjects();
            long grownKb = rssKb() - rssBefore;
            // Process-wide counts: garbage of other tests may be collected meanwhile, so no kind may grow.
            Map<String, Object> was = handlesOf(before);
            handlesOf(after).forEach((kind, n) -> assertTrue(((Number) n).intValue() <= ((Number) was.get(kind)).intValue(),
                    kind + " grew: " + before + " -> " + after));
            assertEquals(0, ((Number) after.get("buffers")).intValue(), "no result buffer left unfreed");
            assertTrue(grownKb < 32 * 1024, "RSS grew by " + grownKb + " kB over " + CALLS + " calls");
            System.out.println("leak: RSS grew " + grownKb + " kB over " + CALLS + " calls; " + after);
        }
    }

    private static void round(ManagementClient mgmt, DataClient data, int calls) throws Exception {
        for (int i = 0; i < calls; i++) {
            switch (i % 5) {
                case 0 -> assertEquals(DevPlatform.CHAT, mgmt.get(DevPlatform.CHAT).slug());
                case 1 -> assertEquals(DevPlatform.CHAT, mgmt.getAsync(DevPlatform.CHAT).get(30, TimeUnit.SECONDS).slug());
                case 2 -> assertThrows(NotFoundException.class, () -> mgmt.get("missing"));
                case 3 -> {
                    try (Endpoint ep = data.endpoint(DevPlatform.CHAT)) {
                        assertTrue(ep.toString().contains(DevPlatform.CHAT));
                    }
                }
                default -> assertTrue(Ffi.redactText("key ik_sdk_abcdefgh_0123").startsWith("key ik_sdk_"));
            }
        }
    }

    @Test
    void theCleanerFreesWhatWasNeverClosed() throws Exception {
        DevPlatform dev = DevPlatform.get();
        int before = handles();
        for (int i = 0; i < 200; i++) {
            dev.data().endpoint(DevPlatform.CHAT); // neither closed
        }
        assertTrue(handles() >= before + 400, "the handles are live until collected");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (handles() > before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
        }
        assertTrue(handles() <= before, "every handle was freed by the Cleaner");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> handlesOf(Map<String, Object> live) {
        return (Map<String, Object>) live.get("handles");
    }

    private static int handles() {
        return handlesOf(Ffi.liveObjects()).values().stream().mapToInt(v -> ((Number) v).intValue()).sum();
    }

    private static long rssKb() throws IOException {
        System.gc();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }
}
