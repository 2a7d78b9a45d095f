package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** 64 threads share one endpoint of the real platform, blocking and async calls mixed. */
class ConcurrencyTest {
    private static final int THREADS = 64;

    @Test
    void sixtyFourThreadsShareOneEndpoint() throws Exception {
        DevPlatform dev = DevPlatform.get();
        try (DataClient data = dev.data(); Endpoint chat = data.endpoint(DevPlatform.CHAT);
                Endpoint embed = data.endpoint(DevPlatform.EMBED)) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            CyclicBarrier start = new CyclicBarrier(THREADS);
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < THREADS; i++) {
                int n = i;
                results.add(pool.submit(() -> {
                    start.await(30, TimeUnit.SECONDS);
                    EmbedResult e = embed.embed("thread " + n);
                    assertEquals(384, e.embeddings().get(0).length);
                    CompletableFuture<EmbedResult> async = embed.embedAsync(EmbedRequest.of("async " + n, "b"));
                    TextResult t = chat.generateText(TextRequest.builder().prompt("Say hi " + n).maxTokens(3).build());
                    assertEquals(2, async.get(120, TimeUnit.SECONDS).embeddings().size());
                    return t.text();
                }));
            }
            for (Future<String> r : results) {
                assertFalse(r.get(300, TimeUnit.SECONDS).isEmpty());
            }
            pool.shutdown();
        }
    }
}
