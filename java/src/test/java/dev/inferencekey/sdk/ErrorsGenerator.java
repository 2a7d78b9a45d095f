package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Generates the exception classes, {@code ErrorCodes} and the status table from the ABI's
 * {@code x-ik-statuses} and {@code x-ik-error-codes} ({@code include/inferencekey.schema.json}).
 * Only the Java names and the class tree are chosen here; numbers, descriptions and codes come
 * from the schema. {@link GeneratedSourcesTest} fails while the committed output differs, and
 * rewrites it when run with {@code INFERENCEKEY_REGENERATE=1}.
 */
final class ErrorsGenerator {
    /** A generated class: its name, parent, one-line summary and extra members. */
    private record Kind(String className, String parent, String summary, String extra) {}

    /** Status kinds (the schema's {@code kinds}) to Java classes, parents before children. */
    private static final Map<String, Kind> KINDS = new LinkedHashMap<>();

    static {
        kind("validation", "ValidationException", "InferenceKeyException",
                "A request or spec the server or a local check refused.", "");
        kind("invalid_argument", "ValidationException", null, null, null);
        kind("drift", "DriftException", "ValidationException",
                "The live workload differs from the spec ({@link OnDrift#FAIL}).", """

                    /** The fields that differ, in the order the library reported them. */
                    public java.util.List<FieldChange> changes() {
                        return Json.changes(details().get("changes"));
                    }
                """);
        kind("config", "ConfigurationException", "InferenceKeyException",
                "A local setup problem: a missing token, project or key, a bad option.", "");
        kind("auth", "AuthenticationException", "InferenceKeyException",
                "The server did not accept the credential (HTTP 401), or it is no InferenceKey token.", "");
        kind("permission", "PermissionDeniedException", "InferenceKeyException",
                "The credential may not do this (HTTP 403; the code says why).", "");
        kind("api", "ApiException", "InferenceKeyException",
                "The server answered with an error, or with something that is not a valid answer.", "");
        kind("not_found", "NotFoundException", "ApiException",
                "The workload or project does not exist (HTTP 404).", "");
        kind("conflict", "ConflictException", "ApiException", "The server refused a conflicting change (HTTP 409).", "");
        kind("rate_limited", "RateLimitException", "ApiException",
                "Too many requests (HTTP 429); see {@link #retryAfter()}.", "");
        kind("server", "InternalServerException", "ApiException", "The server failed (HTTP 5xx), after retries.", "");
        kind("workload_failed", "WorkloadFailedException", "ApiException",
                "The workload reached phase {@code error} while waiting for it.", """

                    /** The workload's last log lines, when the platform sent them. */
                    public java.util.Optional<String> logTail() {
                        return details().get("log_tail") instanceof String s ? java.util.Optional.of(s) : java.util.Optional.empty();
                    }
                """);
        kind("connection", "ApiConnectionException", "InferenceKeyException",
                "No usable response: refused, reset, DNS, TLS, or a truncated stream.", "");
        kind("timeout", "ApiTimeoutException", "ApiConnectionException", "A request exceeded its timeout.", "");
        kind("readiness_timeout", "ReadinessTimeoutException", "ApiTimeoutException",
                "The wait for a workload to become ready passed its deadline.", "");
        kind("cancelled", "CancelledException", "InferenceKeyException",
                "The call was cancelled: its future, its stream was closed, or its thread interrupted.", "");
        kind("invalid_state", "InvalidStateException", "InferenceKeyException",
                "The object cannot do this now: closed, busy, made before {@code fork()}.", "");
        kind("webhook_signature", "WebhookSignatureException", "InferenceKeyException",
                "A webhook delivery does not verify ({@link Webhooks#verify}); the code says why.", "");
    }

    private static void kind(String kind, String cls, String parent, String summary, String extra) {
        KINDS.put(kind, new Kind(cls, parent, summary, extra));
    }

    private ErrorsGenerator() {}

    /** File name (relative to the package folder) to content. */
    static Map<String, String> generate(Path schemaPath) throws IOException {
        JsonNode schema = new ObjectMapper().readTree(schemaPath.toFile());
        JsonNode statuses = schema.get("x-ik-statuses");
        JsonNode codes = schema.get("x-ik-error-codes");

        // Status -> class, and class -> the statuses and codes it stands for.
        Map<Integer, String> classOfStatus = new TreeMap<>();
        Map<String, List<String>> statusDocs = new LinkedHashMap<>();
        Map<String, String> statusName = new LinkedHashMap<>();
        for (JsonNode s : statuses) {
            int value = s.get("value").asInt();
            if (value == 0) {
                continue;
            }
            String cls = "InferenceKeyException";
            for (JsonNode k : s.get("kinds")) {
                Kind kind = KINDS.get(k.asText());
                if (kind == null && !k.asText().equals("invalid_json")) {
                    throw new IllegalStateException("no Java class for status kind " + k.asText());
                }
                if (kind != null) {
                    cls = kind.className();
                }
            }
            classOfStatus.put(value, cls);
            statusName.put(s.get("name").asText(), cls);
            statusDocs.computeIfAbsent(cls, c -> new ArrayList<>())
                    .add("{@code " + s.get("name").asText() + "} (" + value + "): " + s.get("description").asText());
        }
        Map<String, List<String>> codeDocs = new LinkedHashMap<>();
        for (JsonNode c : codes) {
            for (JsonNode st : c.get("statuses")) {
                String cls = statusName.get(st.asText());
                List<String> list = codeDocs.computeIfAbsent(cls, x -> new ArrayList<>());
                String code = "{@code " + c.get("code").asText() + "}";
                if (!list.contains(code)) {
                    list.add(code);
                }
            }
        }

        Map<String, String> files = new TreeMap<>();
        Map<String, Kind> byClass = new LinkedHashMap<>();
        KINDS.values().forEach(k -> byClass.putIfAbsent(k.className(), k));
        for (Kind k : byClass.values()) {
            files.put(k.className() + ".java", exceptionClass(k, statusDocs.getOrDefault(k.className(), List.of()),
                    codeDocs.getOrDefault(k.className(), List.of())));
        }
        files.put("ErrorCodes.java", errorCodes(codes));
        files.put("StatusTable.java", statusTable(classOfStatus, statuses));
        return files;
    }

    private static String header() {
        return "// Generated by ErrorsGenerator from include/inferencekey.schema.json; do not edit.\n"
                + "package dev.inferencekey.sdk;\n\n";
    }

    private static String exceptionClass(Kind k, List<String> statuses, List<String> codes) {
        StringBuilder s = new StringBuilder(header());
        s.append("import java.util.Map;\n\n/**\n * ").append(k.summary()).append("\n *\n * <p>Statuses:\n * <ul>\n");
        for (String st : statuses) {
            s.append(" *   <li>").append(escape(st)).append("</li>\n");
        }
        s.append(" * </ul>\n *\n * <p>Codes: ").append(String.join(", ", codes)).append(".\n */\n");
        s.append("public class ").append(k.className()).append(" extends ").append(k.parent()).append(" {\n");
        s.append("    private static final long serialVersionUID = 1L;\n\n");
        s.append("    /** See {@link InferenceKeyException#InferenceKeyException(String, String, int, String, Map)}. */\n");
        s.append("    public ").append(k.className())
                .append("(String message, String code, int statusCode, String requestId, Map<String, Object> details) {\n");
        s.append("        super(message, code, statusCode, requestId, details);\n    }\n");
        s.append(k.extra());
        s.append("}\n");
        return s.toString();
    }

    private static String errorCodes(JsonNode codes) {
        StringBuilder s = new StringBuilder(header());
        s.append("/** Every error {@link InferenceKeyException#code() code} the library can report. */\n");
        s.append("public final class ErrorCodes {\n    private ErrorCodes() {}\n");
        for (JsonNode c : codes) {
            String code = c.get("code").asText();
            if (c.has("pattern")) {
                continue; // http_<status>: a family, not one value
            }
            List<String> origins = new ArrayList<>();
            c.get("origins").properties().forEach(e -> origins.add(e.getKey() + ": " + e.getValue().asText()));
            s.append("\n    /** ").append(escape(String.join(" ", origins))).append(" */\n");
            s.append("    public static final String ").append(code.toUpperCase(Locale.ROOT))
                    .append(" = \"").append(code).append("\";\n");
        }
        s.append("}\n");
        return s.toString();
    }

    private static String statusTable(Map<Integer, String> classOfStatus, JsonNode statuses) {
        StringBuilder s = new StringBuilder(header());
        s.append("import java.util.Map;\n\n/** ABI status numbers and the exception each one raises. */\n");
        s.append("final class StatusTable {\n    private StatusTable() {}\n\n");
        for (JsonNode st : statuses) {
            s.append("    static final int ").append(st.get("name").asText()).append(" = ")
                    .append(st.get("value").asInt()).append(";\n");
        }
        s.append("\n    /** The exception of {@code status}: by exact value, else by its block of 100. */\n");
        s.append("    static InferenceKeyException exception(int status, String message, String code, int httpStatus,\n");
        s.append("            String requestId, Map<String, Object> details) {\n");
        s.append("        return switch (status) {\n");
        for (Map.Entry<Integer, String> e : classOfStatus.entrySet()) {
            s.append("            case ").append(e.getKey()).append(" -> new ").append(e.getValue())
                    .append("(message, code, httpStatus, requestId, details);\n");
        }
        s.append("            default -> status != status / 100 * 100\n");
        s.append("                    ? exception(status / 100 * 100, message, code, httpStatus, requestId, details)\n");
        s.append("                    : new InferenceKeyException(message, code, httpStatus, requestId, details);\n");
        s.append("        };\n    }\n}\n");
        return s.toString();
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*/", "*&#47;")
                .replace("`", "");
    }
}
