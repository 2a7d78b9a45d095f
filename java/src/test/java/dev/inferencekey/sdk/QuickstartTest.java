package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The seed's quickstart, in Java, against the real local platform with real CPU models. */
class QuickstartTest {
    private final DevPlatform dev = DevPlatform.get();

    @Test
    void ensureWaitGenerateStreamEmbedRerank() throws Exception {
        try (var mgmt = ManagementClient.create(dev.options());
                var data = DataClient.create(dev.options())) {
            var ref = mgmt.ensure(WorkloadSpec.builder().name("support-bot").slug("support-bot")
                    .model("meta-llama/Llama-3.1-8B-Instruct").backend(Backend.VLLM)
                    .command("vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192").build());
            assertEquals(EnsureAction.UNCHANGED, ref.action(), "the platform declared it already");
            List<ReadinessEvent> events = new ArrayList<>();
            ReadinessEvent ready = mgmt.waitUntilReady(ref.workloadSlug(), Duration.ofMinutes(10), events::add);
            assertEquals("ready", ready.phase());
            assertFalse(events.isEmpty());
            assertEquals("ready", events.get(events.size() - 1).phase());

            var ep = data.endpoint(ref.workloadSlug(), dev.apiKey);
            var out = ep.generateText(TextRequest.builder().prompt("Hola").temperature(0.2).maxTokens(300).build());
            assertFalse(out.text().isEmpty());
            assertFalse(out.model().isEmpty());
            assertNotNull(out.finishReason());
            assertTrue(out.raw().contains("\"choices\""), out.raw());

            StringBuilder streamed = new StringBuilder();
            String finish = null;
            try (TextStream stream = ep.generateTextStream(TextRequest.builder()
                    .messages(Message.user("Count to three.")).maxTokens(20).build())) {
                while (stream.hasNext()) {
                    TextChunk chunk = stream.next();
                    streamed.append(chunk.text());
                    finish = chunk.finishReason() != null ? chunk.finishReason() : finish;
                }
                assertTrue(stream.requestId().isPresent());
            }
            assertFalse(streamed.toString().isEmpty());
            assertNotNull(finish);

            try (TextStream opened = ep.generateTextStreamAsync(TextRequest.builder().prompt("Hi").maxTokens(5).build())
                    .get(60, TimeUnit.SECONDS)) {
                int chunks = 0;
                while (opened.hasNext()) {
                    opened.next();
                    chunks++;
                }
                assertTrue(chunks > 0);
                assertTrue(opened.usage().isPresent() || opened.requestId().isPresent());
            }

            var async = ep.generateTextAsync(TextRequest.builder().prompt("Hi").maxTokens(5).build())
                    .get(60, TimeUnit.SECONDS);
            assertFalse(async.text().isEmpty());

            try (Endpoint billing = data.endpoint(DevPlatform.EMBED, dev.apiKey)) {
                EmbedResult emb = billing.embed("a", "b");
                assertEquals(2, emb.embeddings().size());
                assertEquals(384, emb.embeddings().get(0).length);
                assertFalse(emb.model().isEmpty());
                EmbedResult again = billing.embedAsync(EmbedRequest.of("a")).get(60, TimeUnit.SECONDS);
                assertEquals(emb.embeddings().get(0)[0], again.embeddings().get(0)[0], 1e-6);
            }
            try (Endpoint ranker = data.endpoint(DevPlatform.RERANK, dev.apiKey)) {
                RerankResult ranked = ranker.rerank(RerankRequest.of("What is the capital of France?",
                        List.of("Bananas are yellow.", "Paris is the capital of France.", "Cats sleep a lot.")));
                assertEquals(3, ranked.results().size());
                assertEquals(1, ranked.results().get(0).index(), "the relevant document ranks first");
            }
        }
    }

    @Test
    void planGetListDeleteAndAsyncTwins() throws Exception {
        try (var mgmt = ManagementClient.create(dev.options())) {
            WorkloadSpec spec = WorkloadSpec.builder().name("Temp").slug("java-temp").model("m").backend("vllm").build();
            EnsureResult plan = mgmt.plan(spec);
            assertEquals(EnsureAction.PLANNED, plan.action());
            assertEquals("create", plan.plannedOperation());
            assertEquals(EnsureAction.CREATED, mgmt.ensureAsync(spec).get(30, TimeUnit.SECONDS).action());
            assertEquals("java-temp", mgmt.get("java-temp").slug());
            assertEquals("java-temp", mgmt.getAsync("java-temp").get(30, TimeUnit.SECONDS).slug());
            assertTrue(mgmt.list().stream().anyMatch(w -> w.slug().equals(DevPlatform.CHAT)));
            assertTrue(mgmt.listAsync().get(30, TimeUnit.SECONDS).stream().anyMatch(w -> w.slug().equals("java-temp")));
            assertTrue(mgmt.delete("java-temp"));
            assertFalse(mgmt.deleteAsync("java-temp").get(30, TimeUnit.SECONDS));
            List<String> phases = new ArrayList<>();
            ReadinessEvent ready = mgmt.waitUntilReadyAsync(DevPlatform.CHAT, Duration.ofMinutes(1),
                    e -> phases.add(e.phase())).get(60, TimeUnit.SECONDS);
            assertEquals("ready", ready.phase());
            assertEquals("ready", phases.get(phases.size() - 1), "every event runs before the future completes");
        }
    }
}
