"""Declares the quickstart's two workloads and waits until both serve: a chat workload and the
``billing`` embedding workload that the quickstart calls."""

from inferencekey import Backend, ManagementClient, TaskType, WorkloadSpec

WORKLOADS = [
    WorkloadSpec(
        name="support-bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    ),
    WorkloadSpec(
        name="Billing Embeddings",
        slug="billing",
        model="nomic-embed-text",
        backend=Backend.OLLAMA,
        task_type=TaskType.EMBEDDING,
    ),
]

with ManagementClient.from_env(project="acme") as mgmt:
    for spec in WORKLOADS:
        result = mgmt.ensure(spec)
        print(f"{result.workload_slug}: {result.action.value}")
    for spec in WORKLOADS:
        mgmt.wait_until_ready(spec.slug, timeout=300)
