package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** When a workload runs. */
public enum ExecutionPolicy {
    FIXED("fixed"),
    SCHEDULED("scheduled"),
    AUTOSCALING("autoscaling");

    private final String wire;

    ExecutionPolicy(String wire) {
        this.wire = wire;
    }

    /** The value as the wire and the C ABI spell it. */
    @JsonValue
    public String wireValue() {
        return wire;
    }

    /** The constant of a wire value. */
    @JsonCreator
    public static ExecutionPolicy fromWire(String wire) {
        return WireValues.fromWire(ExecutionPolicy.class, ExecutionPolicy::wireValue, wire);
    }

    @Override
    public String toString() {
        return wire;
    }
}
