package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** A native backend; {@link WorkloadSpec.Builder#backend(String)} also takes a custom backend slug. */
public enum Backend {
    OLLAMA("ollama"),
    VLLM("vllm"),
    VLLM_OMNI("vllm-omni"),
    SGLANG("sglang"),
    LLAMACPP("llamacpp"),
    STABLE_DIFFUSION_CPP("stablediffusioncpp");

    private final String wire;

    Backend(String wire) {
        this.wire = wire;
    }

    /** The value as the wire and the C ABI spell it. */
    @JsonValue
    public String wireValue() {
        return wire;
    }

    /** The constant of a wire value. */
    @JsonCreator
    public static Backend fromWire(String wire) {
        return WireValues.fromWire(Backend.class, Backend::wireValue, wire);
    }

    @Override
    public String toString() {
        return wire;
    }
}
