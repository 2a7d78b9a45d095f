package dev.inferencekey.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every case of {@code tests/conformance/redaction.json}: through the binding's call of {@code
 * ik_text_redact}, and through a public surface, an error message of a (fake) server that
 * quotes the case's text, and that exception's {@code toString()}.
 */
class RedactionTest {
    private static final String TOKEN =
            "ik_sdk_1a2b3c4d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    @TestFactory
    Stream<DynamicTest> redactionVectors() throws IOException {
        JsonNode vectors = Json.MAPPER.readTree(GeneratedSourcesTest.ROOT.resolve("tests/conformance/redaction.json").toFile());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : vectors.path("cases")) {
            String input = c.path("input").asText();
            String output = c.path("output").asText();
            tests.add(DynamicTest.dynamicTest(c.path("name").asText(), () -> {
                assertEquals(output, Ffi.redactText(input));
                String body = Json.MAPPER.writeValueAsString(Map.of("error", Map.of("code", "teapot", "message", input)));
                try (FakeServer s = FakeServer.answering(418, body, Map.of());
                        ManagementClient m = ManagementClient.create(ClientOptions.builder().baseUrl(s.baseUrl())
                                .project("acme").sdkToken(TOKEN).maxRetries(0).timeout(Duration.ofSeconds(5)).build())) {
                    ApiException e = assertThrows(ApiException.class, m::list);
                    assertTrue(e.getMessage().contains(output), "message " + e.getMessage() + " holds " + output);
                    assertTrue(e.toString().contains(output), e.toString());
                    if (!input.equals(output)) {
                        assertFalse(e.toString().contains(input), "the unredacted text leaked: " + e);
                    }
                }
            }));
        }
        return tests.stream();
    }
}
