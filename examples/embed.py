"""Embeds sentences and finds the one closest to the first.

Needs an embedding workload, e.g. ``billing`` from ``workloads.toml``. Reads
``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_PROJECT`` and ``INFERENCEKEY_API_KEY``."""

import math
import sys

from inferencekey import DataClient

slug = sys.argv[1] if len(sys.argv) > 1 else "billing"
sentences = [
    "The invoice was paid late.",
    "Quarterly revenue grew by eight percent.",
    "The payment for the bill arrived after the due date.",
]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.hypot(*a) * math.hypot(*b))


with DataClient.from_env() as data:
    result = data.endpoint(slug).embed(input=sentences)  # one vector per input, in order

first, *others = result.embeddings
print(f"{len(result.embeddings)} vectors of {len(first)} dimensions ({result.model})")
scores = [cosine(first, other) for other in others]
for sentence, score in zip(sentences[1:], scores, strict=True):
    print(f"{score:.3f}  {sentence}")
print(f"closest to {sentences[0]!r}: {sentences[1 + scores.index(max(scores))]!r}")
