package dev.inferencekey.sdk;

/**
 * A submitted job; its result reaches the workload's webhooks, not this object.
 *
 * @param jobId the platform's id of the job; each delivery carries it ({@code X-InferenceKey-Job-Id}
 *     and {@link WebhookEvent#jobId()})
 * @param kind what the job runs (also when an alias was given)
 * @param requestId the submission's {@code X-Request-Id}, for support; {@code null} when the
 *     server sent none
 */
public record JobRef(String jobId, JobKind kind, String requestId) {}
