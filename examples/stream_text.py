"""Streams a chat completion (sync): text is printed as it arrives.

Needs a chat workload, e.g. ``support-bot`` from ``workloads.toml``. Reads
``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_PROJECT`` and ``INFERENCEKEY_API_KEY`` (the
``ik_live_`` key of the workload)."""

import sys

from inferencekey import DataClient

slug = sys.argv[1] if len(sys.argv) > 1 else "support-bot"

with DataClient.from_env() as data:
    endpoint = data.endpoint(slug)
    # Status errors (401, 404, 503 workload_not_ready, ...) raise here, before any chunk.
    with endpoint.generate_text_stream(
        prompt="Name three colours of the rainbow.", max_tokens=24, temperature=0.2
    ) as stream:
        finish_reason = None
        for chunk in stream:
            print(chunk.text, end="", flush=True)
            finish_reason = chunk.finish_reason or finish_reason  # set on the last chunk
        print()
    # The request id is what support asks for; "length" means max_tokens cut the answer.
    print(f"[finish_reason: {finish_reason}, request_id: {stream.request_id}]")
