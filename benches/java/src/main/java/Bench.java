import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.inferencekey.sdk.ClientOptions;
import dev.inferencekey.sdk.DataClient;
import dev.inferencekey.sdk.EmbedRequest;
import dev.inferencekey.sdk.Endpoint;
import dev.inferencekey.sdk.TextRequest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.IntStream;

/**
 * Per-call and embed cost of this SDK against openai-java and a raw java.net.http keep-alive
 * floor, all on the answerer of {@code benches/run.sh} (nginx with canned bodies). Each round
 * times every client in turn (interleaved, so drift hits all alike); a ratio is the median over
 * rounds of the per-round median times. Writes table.py rows with {@code --rows}.
 *
 * <pre>java -cp … Bench --base http://127.0.0.1:PORT [--rounds 5] [--calls 2000] [--embeds 40] [--rows FILE]</pre>
 */
public final class Bench {
    static final String PROJECT = "acme";
    static final String SLUG = "bench";
    static final String KEY = "ik_live_1a2b3c4d_" + "0123456789abcdef".repeat(4);
    static final String CHAT_TEXT = "Hello! How can I help you today?";
    static final List<String> INPUTS = IntStream.range(0, 256)
            .mapToObj(i -> "Document " + i + ": the quick brown fox jumps over the lazy dog, variation "
                    + (i * 7919 % 1000) + " of the benchmark corpus.")
            .toList();

    /** One client: a chat call returning the text, an embed call returning the row count. */
    record Client(String name, Supplier<String> chat, Supplier<Integer> embed) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>(Map.of("--rounds", "5", "--calls", "2000", "--embeds", "40"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i], args[i + 1]);
        }
        String base = opts.get("--base");
        if (base == null) {
            throw new IllegalArgumentException("--base URL of the answerer is required");
        }
        int rounds = Integer.parseInt(opts.get("--rounds"));
        int calls = Integer.parseInt(opts.get("--calls"));
        int embeds = Integer.parseInt(opts.get("--embeds"));
        List<Client> clients = List.of(ours(base), openai(base), raw(base));
        for (Client c : clients) {
            check(c);
        }
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            for (Client c : clients) {
                double call = medianMicros(c.chat::get, calls);
                double embed = medianMicros(c.embed::get, embeds) / 1000.0;
                results.computeIfAbsent(c.name, k -> new ArrayList<>()).add(new double[] {call, embed});
                System.out.printf("round %d  %-22s per call %8.1f us   embed 256x384 %7.2f ms%n", r + 1, c.name,
                        call, embed);
            }
        }
        double callVsOpenai = medianRatio(results.get("this SDK (Java)"), results.get("openai-java"), 0);
        double callVsRaw = medianRatio(results.get("this SDK (Java)"), results.get("java.net.http floor"), 0);
        double embedVsOpenai = medianRatio(results.get("this SDK (Java)"), results.get("openai-java"), 1);
        System.out.printf("%nper call vs openai-java   %.2fx (goal <= 1.0)%n", callVsOpenai);
        System.out.printf("per call vs raw floor     %.2fx (goal <= 1.5)%n", callVsRaw);
        System.out.printf("embed vs openai-java      %.2fx (goal <= 0.5)%n", embedVsOpenai);
        if (opts.containsKey("--rows")) {
            List<Map<String, Object>> rows = List.of(
                    row("Java per call (generateText)", results, "openai-java", 0, callVsOpenai, "<= 1.0", "us"),
                    row("Java per call (generateText)", results, "java.net.http floor", 0, callVsRaw, "<= 1.5", "us"),
                    row("Java embed 256x384", results, "openai-java", 1, embedVsOpenai, "<= 0.5", "ms"));
            Files.writeString(Path.of(opts.get("--rows")),
                    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(rows));
        }
        System.exit(0); // okhttp's pool threads would keep the JVM alive for a minute
    }

    static Client ours(String base) {
        DataClient data = DataClient.create(ClientOptions.builder().baseUrl(base).project(PROJECT).apiKey(KEY).build());
        Endpoint ep = data.endpoint(SLUG);
        TextRequest chat = TextRequest.builder().prompt("Hi").maxTokens(16).build();
        EmbedRequest embed = EmbedRequest.of(INPUTS);
        return new Client("this SDK (Java)", () -> ep.generateText(chat).text(),
                () -> ep.embed(embed).embeddings().size());
    }

    static Client openai(String base) {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(base + "/endpoint/" + PROJECT + "/" + SLUG + "/v1")
                .apiKey(KEY).build();
        ChatCompletionCreateParams chat = ChatCompletionCreateParams.builder().model(SLUG).addUserMessage("Hi")
                .maxCompletionTokens(16).build();
        EmbeddingCreateParams embed = EmbeddingCreateParams.builder().model(SLUG).inputOfArrayOfStrings(INPUTS).build();
        return new Client("openai-java",
                () -> client.chat().completions().create(chat).choices().get(0).message().content().orElse(""),
                () -> client.embeddings().create(embed).data().size());
    }

    /** The least a Java client does: one keep-alive HttpClient, the body parsed into a tree. */
    static Client raw(String base) throws IOException {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        ObjectMapper json = new ObjectMapper();
        String v1 = base + "/endpoint/" + PROJECT + "/" + SLUG + "/v1";
        byte[] chatBody = json.writeValueAsBytes(Map.of("model", SLUG, "max_tokens", 16,
                "messages", List.of(Map.of("role", "user", "content", "Hi"))));
        byte[] embedBody = json.writeValueAsBytes(Map.of("model", SLUG, "input", INPUTS));
        HttpRequest chat = post(v1 + "/chat/completions", chatBody);
        HttpRequest embed = post(v1 + "/embeddings", embedBody);
        return new Client("java.net.http floor",
                () -> tree(http, chat, json).path("choices").path(0).path("message").path("content").asText(),
                () -> {
                    JsonNode data = tree(http, embed, json).path("data");
                    double[][] vectors = new double[data.size()][];
                    for (int i = 0; i < vectors.length; i++) {
                        JsonNode v = data.get(i).path("embedding");
                        vectors[i] = new double[v.size()];
                        for (int j = 0; j < vectors[i].length; j++) {
                            vectors[i][j] = v.get(j).asDouble();
                        }
                    }
                    return vectors.length;
                });
    }

    static HttpRequest post(String url, byte[] body) {
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + KEY)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    static JsonNode tree(HttpClient http, HttpRequest request, ObjectMapper json) {
        try {
            HttpResponse<byte[]> r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("HTTP " + r.statusCode());
            }
            return json.readTree(r.body());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static void check(Client c) {
        if (!CHAT_TEXT.equals(c.chat.get()) || c.embed.get() != 256) {
            throw new IllegalStateException(c.name + " did not read the canned answers");
        }
    }

    static double medianMicros(Runnable call, int count) {
        for (int i = 0; i < Math.max(10, count / 10); i++) {
            call.run(); // warm-up
        }
        long[] ns = new long[count];
        for (int i = 0; i < count; i++) {
            long t = System.nanoTime();
            call.run();
            ns[i] = System.nanoTime() - t;
        }
        Arrays.sort(ns);
        return ns[count / 2] / 1000.0;
    }

    static double medianRatio(List<double[]> a, List<double[]> b, int key) {
        double[] r = IntStream.range(0, a.size()).mapToDouble(i -> a.get(i)[key] / b.get(i)[key]).sorted().toArray();
        return r.length % 2 == 1 ? r[r.length / 2] : (r[r.length / 2 - 1] + r[r.length / 2]) / 2;
    }

    static Map<String, Object> row(String path, Map<String, List<double[]>> results, String peer, int key,
            double ratio, String goal, String unit) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("path", path);
        row.put("ours", median(results.get("this SDK (Java)"), key));
        row.put("peer", peer);
        row.put("peer_value", median(results.get(peer), key));
        row.put("ratio", ratio);
        row.put("goal", goal);
        row.put("unit", unit);
        return row;
    }

    static double median(List<double[]> rows, int key) {
        double[] v = rows.stream().mapToDouble(x -> x[key]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
