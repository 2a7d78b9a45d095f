package dev.inferencekey.sdk;

import java.util.List;
import java.util.Optional;

/**
 * What {@code ensure} or {@code plan} did.
 *
 * @param changes the fields created, patched, or found drifted, in the library's order
 * @param workloadId the workload's id, {@code null} when it does not exist yet (a plan)
 * @param workload the workload after the call, {@code null} for a plan of a create
 * @param plannedOperation {@code "create"} or {@code "update"} when {@code action} is {@code PLANNED}
 */
public record EnsureResult(
        String projectSlug,
        String workloadSlug,
        EnsureAction action,
        List<FieldChange> changes,
        String workloadId,
        Workload workload,
        String plannedOperation) {

    /** The workload, when there is one. */
    public Optional<Workload> workloadIfPresent() {
        return Optional.ofNullable(workload);
    }
}
