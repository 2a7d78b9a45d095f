package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * What a job produced: the {@code data} of a job event.
 *
 * @param jobId the job's id, as {@link Endpoint#submitJob} returned it
 * @param status {@code completed} or {@code failed}
 * @param output the route's JSON response, shaped as the synchronous call's (a chat
 *     completion's {@code choices}, an embeddings list's {@code data[].embedding}, rerank
 *     {@code results}); {@code null} when absent (a failed job)
 * @param usage token usage of the job; {@code null} when not reported
 * @param error why the job failed ({@code message}, {@code type}, {@code code}); {@code null}
 *     unless {@code failed}
 * @param extras every other key ({@code binary_b64}, {@code content_type}, {@code units},
 *     {@code metrics}, and any a newer platform adds), unmodifiable
 */
public record JobData(String jobId, String status, JsonNode output, Usage usage, JsonNode error,
        Map<String, JsonNode> extras) {}
