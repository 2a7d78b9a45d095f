package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import dev.inferencekey.sdk.internal.SizeTByReference;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The real local platform (through {@code ik_dev_server_start}), running real CPU models with
 * the interpreter named by {@code INFERENCEKEY_DEV_PYTHON}. One per test run, started on first
 * use, with the quickstart's workloads declared and ready; stopped when the JVM exits.
 */
final class DevPlatform {
    static final String CHAT = "support-bot";
    static final String EMBED = "billing";
    static final String RERANK = "ranker";

    final String baseUrl;
    final String project;
    final String sdkToken;
    final String apiKey;
    /** The bearer of the platform's {@code /_dev} admin routes. */
    private final String adminSecret;
    private final Pointer server;

    private static DevPlatform shared;

    private DevPlatform() {
        String python = System.getenv("INFERENCEKEY_DEV_PYTHON");
        if (python == null || python.isBlank()) {
            throw new IllegalStateException("INFERENCEKEY_DEV_PYTHON must name a Python with the model backends");
        }
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("port", 0);
        cfg.put("python", python);
        byte[] body = Json.encode(cfg);
        PointerByReference out = new PointerByReference();
        PointerByReference info = new PointerByReference();
        SizeTByReference infoLen = new SizeTByReference();
        PointerByReference err = new PointerByReference();
        Ffi.check(Ffi.LIB.ik_dev_server_start(body, Ffi.len(body), out, info, infoLen, err), err);
        server = out.getValue();
        JsonNode details = Ffi.decodeAndFree(info.getValue(), infoLen.value(), (b, l) -> Json.tree(Ffi.bytes(b, l)));
        baseUrl = details.path("base_url").asText();
        adminSecret = details.path("admin_secret").asText();
        JsonNode creds = call("create_project", Map.of("slug", "acme", "name", "Acme"));
        project = creds.path("project").path("slug").asText();
        sdkToken = creds.path("sdk_token").asText();
        apiKey = creds.path("api_key").asText();
    }

    static synchronized DevPlatform get() {
        if (shared == null) {
            shared = new DevPlatform();
            Runtime.getRuntime().addShutdownHook(new Thread(shared::stop));
            shared.declareWorkloads();
        }
        return shared;
    }

    private void declareWorkloads() {
        try (ManagementClient mgmt = management()) {
            WorkloadSpec[] specs = {
                chatSpec(),
                WorkloadSpec.builder().name("Billing Embeddings").slug(EMBED).model("nomic-embed-text")
                        .backend(Backend.OLLAMA).taskType(TaskType.EMBEDDING).build(),
                WorkloadSpec.builder().name("Ranker").slug(RERANK).model("BAAI/bge-reranker-base")
                        .backend(Backend.VLLM).taskType(TaskType.RERANKER).build(),
            };
            for (WorkloadSpec spec : specs) {
                mgmt.ensure(spec);
            }
            for (WorkloadSpec spec : specs) {
                mgmt.waitUntilReady(spec.slug(), Duration.ofMinutes(3), null);
            }
        }
    }

    /** The spec the chat workload was declared with. */
    static WorkloadSpec chatSpec() {
        return WorkloadSpec.builder().name("support-bot").slug(CHAT).model("meta-llama/Llama-3.1-8B-Instruct")
                .backend(Backend.VLLM).command("vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192")
                .build();
    }

    /** Real CPU models on a shared 2-core machine: a generous per-attempt timeout. */
    ClientOptions options() {
        return ClientOptions.builder().baseUrl(baseUrl).project(project).sdkToken(sdkToken).apiKey(apiKey)
                .timeout(Duration.ofMinutes(3)).build();
    }

    ManagementClient management() {
        return ManagementClient.create(options());
    }

    DataClient data() {
        return DataClient.create(options());
    }

    /** A data key granted only {@code workload}. */
    String mintKey(String workload) {
        return call("mint_token", Map.of("project", project, "kind", "live", "grants",
                java.util.List.of(project + "/" + workload))).path("token").asText();
    }

    /** A management token with only these scopes. */
    String mintSdkToken(String... scopes) {
        return call("mint_token", Map.of("project", project, "kind", "sdk", "scopes", java.util.List.of(scopes)))
                .path("token").asText();
    }

    /** The environment that points {@code fromEnv} here. */
    Map<String, String> env() {
        return Map.of("INFERENCEKEY_BASE_URL", baseUrl, "INFERENCEKEY_PROJECT", project,
                "INFERENCEKEY_SDK_TOKEN", sdkToken, "INFERENCEKEY_API_KEY", apiKey);
    }

    /**
     * Adds a webhook destination to {@code workload} through the admin route: {@code {"id",
     * "url","created_at","secret"}} (the only time the secret is shown).
     */
    JsonNode addWebhook(String workload, String url) throws java.io.IOException {
        return admin("POST", webhooksPath(workload), Json.encode(Map.of("url", url)));
    }

    void removeWebhook(String workload, String id) throws java.io.IOException {
        admin("DELETE", webhooksPath(workload) + "/" + id, null);
    }

    /** The deliveries of the workload's jobs, as the admin route lists them. */
    JsonNode webhookDeliveries(String workload) throws java.io.IOException {
        return admin("GET", webhooksPath(workload) + "/deliveries", null);
    }

    private String webhooksPath(String workload) {
        return "/_dev/projects/" + project + "/workloads/" + workload + "/webhooks";
    }

    /** One admin call (loopback only, admin bearer); a non-2xx answer is an IOException with its body. */
    private JsonNode admin(String method, String path, byte[] body) throws java.io.IOException {
        java.net.HttpURLConnection c = (java.net.HttpURLConnection) java.net.URI.create(baseUrl + path).toURL()
                .openConnection();
        try {
            c.setRequestMethod(method);
            c.setRequestProperty("Authorization", "Bearer " + adminSecret);
            c.setConnectTimeout(10_000);
            c.setReadTimeout(30_000);
            if (body != null) {
                c.setDoOutput(true);
                c.setRequestProperty("Content-Type", "application/json");
                try (var out = c.getOutputStream()) {
                    out.write(body);
                }
            }
            int status = c.getResponseCode();
            try (var in = status >= 400 ? c.getErrorStream() : c.getInputStream()) {
                byte[] answer = in == null ? new byte[0] : in.readAllBytes();
                if (status >= 300) {
                    throw new java.io.IOException(method + " " + path + " answered " + status + ": "
                            + new String(answer, java.nio.charset.StandardCharsets.UTF_8));
                }
                return answer.length == 0 ? null : Json.tree(answer);
            }
        } finally {
            c.disconnect();
        }
    }

    private JsonNode call(String verb, Map<String, Object> request) {
        byte[] body = Json.encode(request);
        return Ffi.call((out, len, err) -> verb.equals("create_project")
                ? Ffi.LIB.ik_dev_server_create_project(server, body, Ffi.len(body), out, len, err)
                : Ffi.LIB.ik_dev_server_mint_token(server, body, Ffi.len(body), out, len, err),
                (b, l) -> Json.tree(Ffi.bytes(b, l)));
    }

    private void stop() {
        Ffi.LIB.ik_dev_server_stop(server);
        Ffi.LIB.ik_dev_server_free(server);
    }
}
