package dev.inferencekey.sdk;

/**
 * One field that differs between the live workload and the spec (or, for a create, one field
 * sent). {@code live} and {@code desired} are JSON values as Java objects (maps, lists,
 * strings, numbers, booleans or {@code null}).
 *
 * @param field the spec field, or a dotted path such as {@code config.engine.max_running_requests}
 */
public record FieldChange(String field, Object live, Object desired, boolean patchable) {}
