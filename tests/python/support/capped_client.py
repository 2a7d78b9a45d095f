"""Child process of the memory-cap tests: one data-plane call against a hostile server, then
one JSON line on stdout with what it raised and the process's peak RSS.

Run as ``python capped_client.py <base_url> <sync|async> <text|stream>``. A separate process,
so that its peak RSS measures this one call and nothing the test runner did before. The peak
is ``VmHWM`` of ``/proc/self/status`` where there is one: ``ru_maxrss`` keeps, across
``exec``, the peak of the test runner this process was forked from.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from typing import Any

import inferencekey as ik

KEY = "ik_live_1a2b3c4d_" + "5e" * 32


def _sync(url: str, kind: str) -> None:
    with ik.DataClient(project="acme", base_url=url, api_key=KEY, max_retries=0) as client:
        endpoint = client.endpoint("bot")
        if kind == "stream":
            with endpoint.generate_text_stream(prompt="hi") as stream:
                for _ in stream:
                    pass
        else:
            endpoint.generate_text(prompt="hi")


async def _async(url: str, kind: str) -> None:
    async with ik.AsyncDataClient(
        project="acme", base_url=url, api_key=KEY, max_retries=0
    ) as client:
        endpoint = client.endpoint("bot")
        if kind == "stream":
            stream = await endpoint.generate_text_stream(prompt="hi")
            async with stream:
                async for _ in stream:
                    pass
        else:
            await endpoint.generate_text(prompt="hi")


def peak_rss() -> int:
    """This process's peak resident set, in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # Linux reports KiB, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def main() -> None:
    url, flavour, kind = sys.argv[1:4]
    before = peak_rss()
    out: dict[str, Any] = {"raised": None}
    try:
        if flavour == "async":
            asyncio.run(_async(url, kind))
        else:
            _sync(url, kind)
    except BaseException as exc:
        out = {
            "raised": type(exc).__name__,
            "mro": [c.__name__ for c in type(exc).__mro__],
            "code": getattr(exc, "code", None),
            "message": str(exc)[:2000],
        }
    out["maxrss_before"] = before
    out["maxrss"] = peak_rss()
    print(json.dumps(out), flush=True)
    # The report is out; skip interpreter finalization. A native runtime thread still
    # finishing the abandoned async call can abort a finalizing interpreter ("exception not
    # rethrown"): the known exit race of issue 11 (c-abi rule 18a), with its own test there,
    # not what this memory measurement is about.
    os._exit(0)


if __name__ == "__main__":
    main()
