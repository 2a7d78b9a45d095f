package dev.inferencekey.sdk;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A verified webhook delivery ({@link Webhooks#verify}).
 *
 * @param event {@code job.completed}, {@code job.failed} or {@code ping}
 * @param ts when the event was made, unix seconds (the same in every retry)
 * @param jobId the job's id; {@code null} for events of no job
 * @param context the {@code context} given to {@link JobRequest.Builder#context}, echoed back;
 *     {@code null} when none was given
 * @param data the job's result; {@code null} for events of no job
 */
public record WebhookEvent(String event, long ts, String jobId, JsonNode context, JobData data) {}
