package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** What {@code ensure} does when the live workload differs from the spec. */
public enum OnDrift {
    RECONCILE("reconcile"),
    FAIL("fail"),
    DRY_RUN("dry_run"),
    /** Write nothing; the drift is logged at {@code WARNING} on the {@code dev.inferencekey.sdk} logger. */
    WARN("warn"),
    IGNORE("ignore");

    private final String wire;

    OnDrift(String wire) {
        this.wire = wire;
    }

    /** The value as the wire and the C ABI spell it. */
    @JsonValue
    public String wireValue() {
        return wire;
    }

    /** The constant of a wire value. */
    @JsonCreator
    public static OnDrift fromWire(String wire) {
        return WireValues.fromWire(OnDrift.class, OnDrift::wireValue, wire);
    }

    @Override
    public String toString() {
        return wire;
    }
}
