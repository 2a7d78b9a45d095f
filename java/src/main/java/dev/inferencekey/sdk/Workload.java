package dev.inferencekey.sdk;

import java.util.Map;

/**
 * A workload as the server described it. Everything but {@code slug} may be {@code null} when
 * the server left it out.
 *
 * @param config the workload's config object (never {@code null}; empty when absent)
 * @param executionPolicyConfig any JSON value, kept as sent
 * @param raw the element exactly as received, as JSON values (maps, lists, …)
 */
public record Workload(
        String id,
        String projectId,
        String projectSlug,
        String slug,
        String name,
        String description,
        String taskType,
        String backend,
        String model,
        Map<String, Object> config,
        String workerId,
        String gpuResourceId,
        String executionPolicy,
        Object executionPolicyConfig,
        String phase,
        String createdAt,
        String updatedAt,
        Object raw) {}
