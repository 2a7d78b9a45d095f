package dev.inferencekey.sdk;

import java.util.Objects;

/**
 * How {@code ensure} treats drift, and which project it acts on.
 *
 * @param onDrift what to do when the live workload differs from the spec
 * @param project the project, overriding the client's; {@code null} keeps it
 */
public record EnsureOptions(OnDrift onDrift, String project) {
    /** {@link OnDrift#RECONCILE} on the client's project. */
    public static final EnsureOptions DEFAULT = new EnsureOptions(OnDrift.RECONCILE, null);

    public EnsureOptions {
        Objects.requireNonNull(onDrift, "onDrift");
    }

    public static EnsureOptions onDrift(OnDrift onDrift) {
        return new EnsureOptions(onDrift, null);
    }

    public EnsureOptions withProject(String project) {
        return new EnsureOptions(onDrift, project);
    }
}
