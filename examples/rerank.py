"""Ranks documents by relevance to a query, best first.

Needs a reranker workload, e.g. ``support-search`` from ``workloads.toml``. Reads
``INFERENCEKEY_BASE_URL``, ``INFERENCEKEY_PROJECT`` and ``INFERENCEKEY_API_KEY``."""

import sys

from inferencekey import DataClient

slug = sys.argv[1] if len(sys.argv) > 1 else "support-search"
query = "How do I reset my password?"
documents = [
    "Our offices are closed on public holidays.",
    "To change a forgotten password, open Settings and choose 'Reset password'.",
    "Invoices are sent on the first day of each month.",
]

with DataClient.from_env() as data:
    ranked = data.endpoint(slug).rerank(query=query, documents=documents, top_n=3)

for place, item in enumerate(ranked.results, start=1):
    # item.index points back into `documents`.
    print(f"{place}. {item.relevance_score:.3f}  {documents[item.index]}")
