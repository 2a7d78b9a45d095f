package dev.inferencekey.sdk;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * What an async job ({@link Endpoint#submitJob}) runs. The aliases the platform accepts
 * ({@code chat_completions}, {@code reranking}, {@code images_generations}) may be given as
 * plain strings to {@link JobRequest.Builder#kind(String)}.
 */
public enum JobKind {
    CHAT("chat"),
    EMBEDDINGS("embeddings"),
    RERANK("rerank"),
    AUDIO_SPEECH("audio_speech"),
    AUDIO_GENERATE("audio_generate"),
    AUDIO_TRANSCRIPTIONS("audio_transcriptions"),
    IMAGES("images"),
    IMAGES_EDITS("images_edits"),
    IMAGES_VARIATIONS("images_variations"),
    FORECAST("forecast");

    private final String wire;

    JobKind(String wire) {
        this.wire = wire;
    }

    /** The value as the wire and the C ABI spell it. */
    @JsonValue
    public String wireValue() {
        return wire;
    }

    /** The constant of a wire value (not of an alias: the library resolves those). */
    @JsonCreator
    public static JobKind fromWire(String wire) {
        return WireValues.fromWire(JobKind.class, JobKind::wireValue, wire);
    }

    @Override
    public String toString() {
        return wire;
    }
}
