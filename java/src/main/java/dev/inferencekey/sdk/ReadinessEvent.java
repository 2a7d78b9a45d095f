package dev.inferencekey.sdk;

/**
 * One step of a workload on its way to {@code ready} (or {@code error}); every text field is
 * redacted by the library.
 *
 * @param phase e.g. {@code scheduling}, {@code starting}, {@code ready}, {@code error}
 * @param elapsedMs milliseconds since the wait began, as the server counts them
 * @param step the step within the phase, if the server named one
 * @param logTail the workload's last log lines, on {@code error}
 */
public record ReadinessEvent(String phase, String message, long elapsedMs, String step, String logTail) {}
