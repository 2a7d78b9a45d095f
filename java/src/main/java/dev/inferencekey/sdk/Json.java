package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** The one JSON mapper: snake_case on the wire, records in Java, {@code null}s left out. */
final class Json {
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.USE_DEFAULTS))
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private static final TypeReference<List<FieldChange>> CHANGES = new TypeReference<>() {};
    private static final TypeReference<Map<String, Object>> OBJECT = new TypeReference<>() {};

    private Json() {}

    static byte[] encode(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot encode the request as JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** {@code request} with the per-call {@code "options"} key of the ABI, when there is any. */
    static byte[] encode(Object request, RequestOptions options) {
        Objects.requireNonNull(options, "options");
        if (options.isEmpty()) {
            return encode(request);
        }
        ObjectNode node = MAPPER.valueToTree(request);
        node.set("options", MAPPER.valueToTree(options.toJson()));
        return encode(node);
    }

    static JsonNode tree(byte[] json) {
        try {
            return MAPPER.readTree(json);
        } catch (IOException e) {
            throw invalid(e);
        }
    }

    static <T> T decode(byte[] json, Class<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (IOException e) {
            throw invalid(e);
        }
    }

    static <T> T convert(JsonNode node, Class<T> type) {
        return MAPPER.convertValue(node, type);
    }

    static Map<String, Object> object(String json) {
        try {
            return MAPPER.readValue(json, OBJECT);
        } catch (IOException e) {
            throw invalid(e);
        }
    }

    static List<FieldChange> changes(Object value) {
        return value == null ? List.of() : List.copyOf(MAPPER.convertValue(value, CHANGES));
    }

    /** A result the library produced that does not decode: a library/binding mismatch. */
    private static InferenceKeyException invalid(IOException e) {
        return new InferenceKeyException("the native library returned JSON this binding cannot read: "
                + Ffi.redactText(e.getMessage()), ErrorCodes.INVALID_RESPONSE, 0, null, null);
    }
}
