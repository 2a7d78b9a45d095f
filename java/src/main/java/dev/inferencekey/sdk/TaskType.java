package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** What a workload does; the default is {@link #TEXT2TEXT}. */
public enum TaskType {
    TEXT2TEXT("text2text"),
    EMBEDDING("embedding"),
    TEXT2IMAGE("text2image"),
    TEXT2VIDEO("text2video"),
    TEXT2AUDIO("text2audio"),
    IMAGE2IMAGE("image2image"),
    IMAGE2VIDEO("image2video"),
    AUDIO2TEXT("audio2text"),
    OMNI("omni"),
    RERANKER("reranker"),
    CLASSIFICATION("classification"),
    REWARD("reward"),
    FORECAST("forecast");

    private final String wire;

    TaskType(String wire) {
        this.wire = wire;
    }

    /** The value as the wire and the C ABI spell it. */
    @JsonValue
    public String wireValue() {
        return wire;
    }

    /** The constant of a wire value. */
    @JsonCreator
    public static TaskType fromWire(String wire) {
        return WireValues.fromWire(TaskType.class, TaskType::wireValue, wire);
    }

    @Override
    public String toString() {
        return wire;
    }
}
