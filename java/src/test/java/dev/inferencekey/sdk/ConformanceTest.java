package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every case of {@code tests/conformance/ensure.json}, replayed through the public API against
 * a JDK {@link HttpServer} playing the control plane (the vectors' README), and the {@code
 * dry_run} ones a second time through {@link ManagementClient#plan}.
 */
class ConformanceTest {
    private static final String TOKEN =
            "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    /** The vectors name the Python classes; these are their Java counterparts. */
    private static final Map<String, Class<? extends InferenceKeyException>> CLASSES = Map.of(
            "ValidationError", ValidationException.class,
            "DriftError", DriftException.class,
            "ConfigurationError", ConfigurationException.class,
            "NotFoundError", NotFoundException.class,
            "ConflictError", ConflictException.class,
            "PermissionDenied", PermissionDeniedException.class,
            "AuthError", AuthenticationException.class);

    /** JSON values compared as the README says: numbers by value. */
    private static final Comparator<JsonNode> BY_VALUE = (a, b) -> {
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue());
        }
        return a.equals(b) ? 0 : 1;
    };

    @TestFactory
    Stream<DynamicTest> ensureVectors() throws IOException {
        JsonNode vectors = Json.MAPPER.readTree(GeneratedSourcesTest.ROOT.resolve("tests/conformance/ensure.json").toFile());
        assertEquals(1, vectors.path("version").asInt());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : vectors.path("cases")) {
            String name = c.path("name").asText();
            tests.add(DynamicTest.dynamicTest(name, () -> replay(c, false)));
            if (c.path("on_drift").asText().equals("dry_run")) {
                tests.add(DynamicTest.dynamicTest(name + " (plan)", () -> replay(c, true)));
            }
        }
        assertTrue(tests.size() >= vectors.path("cases").size());
        return tests.stream();
    }

    private static void replay(JsonNode c, boolean viaPlan) throws Exception {
        JsonNode exchanges = c.path("exchanges");
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger n = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> answer(ex, exchanges, n.getAndIncrement(), failures));
        server.start();
        List<LogRecord> warnings = Collections.synchronizedList(new ArrayList<>());
        Logger logger = Logger.getLogger("dev.inferencekey.sdk");
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                // The library's drift warning (other warnings, such as a slug the server changed, are not drift).
                if (r.getLevel().intValue() >= Level.WARNING.intValue() && r.getMessage().contains("drifted from spec")) {
                    warnings.add(r);
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        assertTrue(CoreLog.flush(10, TimeUnit.SECONDS), "earlier records are out");
        logger.addHandler(capture);
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        try (ManagementClient mgmt = ManagementClient.create(ClientOptions.builder().baseUrl(base)
                .project(c.path("project").asText()).sdkToken(TOKEN).build())) {
            WorkloadSpec spec = spec(c.path("spec"));
            OnDrift onDrift = OnDrift.fromWire(c.path("on_drift").asText());
            JsonNode expect = c.path("expect");
            if (!expect.path("error").isNull()) {
                InferenceKeyException e = assertThrows(InferenceKeyException.class,
                        () -> run(mgmt, spec, onDrift, viaPlan));
                assertEquals(CLASSES.get(expect.path("error").path("class").asText()), e.getClass(), e.toString());
                if (!expect.path("error").path("code").isNull()) {
                    assertEquals(expect.path("error").path("code").asText(), e.code());
                }
                if (!expect.path("changes").isNull()) {
                    assertChanges(expect.path("changes"), assertInstanceOf(DriftException.class, e).changes());
                }
            } else {
                EnsureResult r = run(mgmt, spec, onDrift, viaPlan);
                assertEquals(expect.path("action").asText(), r.action().wireValue());
                assertEquals(expect.path("workload_slug").asText(), r.workloadSlug());
                if (r.action() == EnsureAction.PLANNED) {
                    assertEquals(expect.path("planned_operation").asText(), r.plannedOperation());
                }
                if (!expect.path("changes").isNull()) {
                    assertChanges(expect.path("changes"), r.changes());
                }
            }
            assertTrue(CoreLog.flush(10, TimeUnit.SECONDS), "the library's records are out");
            assertEquals(expect.path("warning").asBoolean(), !warnings.isEmpty(), "a drift warning was logged");
        } finally {
            logger.removeHandler(capture);
            server.stop(0);
        }
        if (!failures.isEmpty()) {
            fail(String.join("\n", failures));
        }
        assertEquals(exchanges.size(), n.get(), "every exchange was used, and no more");
    }

    private static EnsureResult run(ManagementClient mgmt, WorkloadSpec spec, OnDrift onDrift, boolean viaPlan) {
        return viaPlan ? mgmt.plan(spec) : mgmt.ensure(spec, EnsureOptions.onDrift(onDrift));
    }

    private static void answer(HttpExchange ex, JsonNode exchanges, int i, List<String> failures) throws IOException {
        try (ex) {
            byte[] sent = ex.getRequestBody().readAllBytes();
            if (i >= exchanges.size()) {
                failures.add("request " + (i + 1) + " beyond the " + exchanges.size() + " expected: "
                        + ex.getRequestMethod() + " " + ex.getRequestURI());
                ex.sendResponseHeaders(599, -1);
                return;
            }
            JsonNode want = exchanges.get(i).path("request");
            if (!want.path("method").asText().equals(ex.getRequestMethod())
                    || !want.path("path").asText().equals(ex.getRequestURI().getPath())) {
                failures.add("request " + (i + 1) + ": want " + want.path("method").asText() + " "
                        + want.path("path").asText() + ", got " + ex.getRequestMethod() + " " + ex.getRequestURI().getPath());
            }
            JsonNode body = sent.length == 0 ? null : Json.MAPPER.readTree(sent);
            JsonNode wantBody = want.path("body").isNull() ? null : want.path("body");
            if (wantBody == null ? body != null : body == null || !wantBody.equals(BY_VALUE, body)) {
                failures.add("request " + (i + 1) + " body: want " + wantBody + ", got " + body);
            }
            JsonNode response = exchanges.get(i).path("response");
            byte[] out = Json.MAPPER.writeValueAsBytes(response.path("body"));
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(response.path("status").asInt(), out.length);
            ex.getResponseBody().write(out);
        }
    }

    /** The case's spec, through the public builder (enum fields as wire strings). */
    private static WorkloadSpec spec(JsonNode s) {
        WorkloadSpec.Builder b = WorkloadSpec.builder();
        s.properties().forEach(e -> {
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "name" -> b.name(v.asText());
                case "slug" -> b.slug(v.asText());
                case "model" -> b.model(v.asText());
                case "backend" -> b.backend(v.asText());
                case "command" -> b.command(v.asText());
                case "description" -> b.description(v.isNull() ? null : v.asText());
                case "task_type" -> b.taskType(v.asText());
                case "config" -> b.config(map(v));
                case "execution_policy" -> b.executionPolicy(v.asText());
                case "execution_policy_config" -> b.executionPolicyConfig(map(v));
                case "gpu_resource_id" -> b.gpuResourceId(v.asText());
                case "vllm_version" -> b.vllmVersion(v.asText());
                case "worker_id" -> b.workerId(v.asText());
                default -> fail("spec key the Java builder does not know: " + e.getKey());
            }
        });
        return b.build();
    }

    private static Map<String, Object> map(JsonNode v) {
        return v.isNull() ? null : Json.MAPPER.convertValue(v, new TypeReference<Map<String, Object>>() {});
    }

    private static void assertChanges(JsonNode want, List<FieldChange> got) {
        ArrayNode actual = JsonNodeFactory.instance.arrayNode();
        for (FieldChange c : got) {
            ObjectNode o = actual.addObject();
            o.put("field", c.field());
            o.set("live", c.live() == null ? NullNode.getInstance() : Json.MAPPER.valueToTree(c.live()));
            o.set("desired", c.desired() == null ? NullNode.getInstance() : Json.MAPPER.valueToTree(c.desired()));
            o.put("patchable", c.patchable());
        }
        assertTrue(want.equals(BY_VALUE, actual), "changes: want " + want + ", got " + actual);
    }
}
