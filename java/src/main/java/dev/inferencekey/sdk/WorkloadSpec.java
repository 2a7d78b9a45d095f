package dev.inferencekey.sdk;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The declared state of a workload, which {@code ensure} makes true. Build one with {@link
 * #builder()}; {@code name}, {@code slug}, {@code model} and {@code backend} are required, and
 * the library checks every field ({@link ValidationException}) before any request.
 *
 * @param backend a {@link Backend} wire value or a custom backend slug
 * @param taskType a {@link TaskType} wire value; {@code null} means {@code text2text}
 * @param config extra workload config, merged with {@code command}
 * @param project the project, overriding the client's
 */
public record WorkloadSpec(
        String name,
        String slug,
        String model,
        String backend,
        String command,
        String description,
        String taskType,
        Map<String, Object> config,
        String executionPolicy,
        Map<String, Object> executionPolicyConfig,
        String gpuResourceId,
        String vllmVersion,
        String workerId,
        String project) {

    public WorkloadSpec {
        config = config == null ? null : Map.copyOf(config);
        executionPolicyConfig = executionPolicyConfig == null ? null : Map.copyOf(executionPolicyConfig);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this spec's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.slug = slug;
        b.model = model;
        b.backend = backend;
        b.command = command;
        b.description = description;
        b.taskType = taskType;
        b.config = config;
        b.executionPolicy = executionPolicy;
        b.executionPolicyConfig = executionPolicyConfig;
        b.gpuResourceId = gpuResourceId;
        b.vllmVersion = vllmVersion;
        b.workerId = workerId;
        b.project = project;
        return b;
    }

    /** Builds a {@link WorkloadSpec}; enum-valued fields take the enum or its wire string. */
    public static final class Builder {
        private String name;
        private String slug;
        private String model;
        private String backend;
        private String command;
        private String description;
        private String taskType;
        private Map<String, Object> config;
        private String executionPolicy;
        private Map<String, Object> executionPolicyConfig;
        private String gpuResourceId;
        private String vllmVersion;
        private String workerId;
        private String project;

        private Builder() {}

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder slug(String slug) {
            this.slug = slug;
            return this;
        }

        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder backend(Backend backend) {
            return backend(backend == null ? null : backend.wireValue());
        }

        /** A native backend's wire value or a custom backend slug. */
        public Builder backend(String backend) {
            this.backend = backend;
            return this;
        }

        public Builder command(String command) {
            this.command = command;
            return this;
        }

        public Builder description(String description) {
            this.description = description;
            return this;
        }

        public Builder taskType(TaskType taskType) {
            return taskType(taskType == null ? null : taskType.wireValue());
        }

        public Builder taskType(String taskType) {
            this.taskType = taskType;
            return this;
        }

        public Builder config(Map<String, Object> config) {
            this.config = config == null ? null : new LinkedHashMap<>(config);
            return this;
        }

        public Builder executionPolicy(ExecutionPolicy policy) {
            return executionPolicy(policy == null ? null : policy.wireValue());
        }

        public Builder executionPolicy(String policy) {
            this.executionPolicy = policy;
            return this;
        }

        public Builder executionPolicyConfig(Map<String, Object> config) {
            this.executionPolicyConfig = config == null ? null : new LinkedHashMap<>(config);
            return this;
        }

        public Builder gpuResourceId(String gpuResourceId) {
            this.gpuResourceId = gpuResourceId;
            return this;
        }

        public Builder vllmVersion(String vllmVersion) {
            this.vllmVersion = vllmVersion;
            return this;
        }

        public Builder workerId(String workerId) {
            this.workerId = workerId;
            return this;
        }

        public Builder project(String project) {
            this.project = project;
            return this;
        }

        public WorkloadSpec build() {
            return new WorkloadSpec(name, slug, model, backend, command, description, taskType, config,
                    executionPolicy, executionPolicyConfig, gpuResourceId, vllmVersion, workerId, project);
        }
    }
}
