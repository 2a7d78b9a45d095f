"""The quickstart of the public API page, unchanged but for its ``ik_live_...`` placeholders,
which are read from the environment (``inferencekey dev`` prints them)."""

import os

from inferencekey import Backend, DataClient, ManagementClient, WorkloadSpec

# Control plane: reads INFERENCEKEY_SDK_TOKEN (ik_sdk_...), scoped to one project.
mgmt = ManagementClient.from_env(project="acme")
ref = mgmt.ensure(
    WorkloadSpec(
        name="support-bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    )
)  # on_drift defaults to OnDrift.RECONCILE

# Data plane: one client, many workloads, an ik_live_ key passed per workload.
data = DataClient.from_env(project="acme")
ep = data.endpoint(ref.workload_slug, api_key=os.environ["INFERENCEKEY_API_KEY"])
out = ep.generate_text(prompt="Hola", temperature=0.2, max_tokens=300)
print(out.text, out.model)
emb = data.endpoint("billing", api_key=os.environ["INFERENCEKEY_API_KEY"]).embed(input=["a", "b"])
print(emb.embeddings)
