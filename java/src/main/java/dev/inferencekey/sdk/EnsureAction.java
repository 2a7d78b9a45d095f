package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** The outcome of an {@code ensure} that did not throw. */
public enum EnsureAction {
    CREATED("created"),
    UPDATED("updated"),
    UNCHANGED("unchanged"),
    PLANNED("planned"),
    DRIFT_IGNORED("drift_ignored"),
    DRIFT_WARNED("drift_warned");

    private final String wire;

    EnsureAction(String wire) {
        this.wire = wire;
    }

    /** The value as the wire and the C ABI spell it. */
    @JsonValue
    public String wireValue() {
        return wire;
    }

    /** The constant of a wire value. */
    @JsonCreator
    public static EnsureAction fromWire(String wire) {
        return WireValues.fromWire(EnsureAction.class, EnsureAction::wireValue, wire);
    }

    @Override
    public String toString() {
        return wire;
    }
}
