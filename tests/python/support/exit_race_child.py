"""Child process of the interpreter-exit race test (``test_exit_race.py``): a program that exits
while hundreds of calls are in flight, the way real programs do.

Run as ``python exit_race_child.py <mode> <seed> <exit code>``. It serves a fake chat answerer
on loopback (a :class:`support.rawhttp.RawServer` in this process: every answer after a random
0-30 ms, so completions keep arriving), logs the ``inferencekey`` logger at DEBUG into a
counting handler (log callbacks then run on the core's runtime threads too), starts two daemon
threads making blocking calls with a sync client, warms the async client's pool with one wave
of calls, then launches 400 ``generate_text`` calls (at most 96 at once) and a few
``generate_text_stream`` opens, sleeps a random 0-50 ms, and exits while they are in flight:

- ``exit-in-loop``: ``sys.exit(code)`` inside the coroutine that runs on a loop started with
  ``loop.run_until_complete`` (nothing cancels the tasks left in flight);
- ``asyncio-run-exit``: the same under ``asyncio.run`` (which cancels the tasks left in flight
  before the interpreter finalizes);
- ``return``: the loop runs in a daemon thread; the main thread returns from ``main`` while
  that loop's calls and the blocking threads' calls are in flight;
- ``return-blocking``: no async call at all: 32 daemon threads in blocking calls (their log
  records are the only callbacks), and the main thread returns from ``main``. With no async
  call pending, an exit hook that waits only for pending async calls does not wait at all.

Before exiting it prints one line on stdout, ``exiting mode=… in_flight=… completed=… …``, and
flushes; everything after that is the interpreter's exit, which is what the test watches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import inferencekey as ik
from support.faults import Reply
from support.rawhttp import Peer, RawServer, completion, response

KEY = "ik_live_1a2b3c4d_" + "0" * 64
CALLS = 400
CONCURRENCY = 96
STREAMS = 16
BLOCKING_THREADS = 2
BLOCKING_ONLY_THREADS = 32  # mode return-blocking


class Counting(logging.Handler):
    """Counts records: a log callback from a runtime thread runs real Python (``logging``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {} if text is None else {"content": text}
    chunk = {
        "id": "chatcmpl-exit",
        "object": "chat.completion.chunk",
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    data = f"data: {json.dumps(chunk)}\n\n".encode()
    return b"%x\r\n%b\r\n" % (len(data), data)


def answerer(peer: Peer) -> None:
    """The fake chat server: every request answered after a random 0-30 ms; a streaming
    request gets a few chunks 5 ms apart, then ``[DONE]``."""
    rng = random.Random()
    for request in peer.requests():
        time.sleep(rng.uniform(0, 0.03))
        if request.json().get("stream"):
            head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            head += "Transfer-Encoding: chunked\r\n\r\n"
            if not peer.send(head.encode()):
                return
            for word in ("exit", "race", "stream"):
                if not peer.send(_chunk(word)):
                    return
                time.sleep(0.005)
            done = b"data: [DONE]\n\n"
            peer.send(_chunk(None, "stop") + b"%x\r\n%b\r\n0\r\n\r\n" % (len(done), done))
        else:
            text = request.json()["messages"][-1]["content"]
            peer.send(response(Reply(200, completion(text))))


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.completed = 0
        self.failed = 0
        self.blocking = 0
        self.chunks = 0
        self.in_call = 0  # blocking calls under way

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


def blocking_calls(url: str, stats: Stats) -> None:
    """A daemon thread's life: blocking calls with a sync client, until the process ends."""
    client = ik.DataClient(project="p", base_url=url, api_key=KEY)
    endpoint = client.endpoint("bot")
    n = 0
    while True:
        n += 1
        stats.add("in_call")
        try:
            endpoint.generate_text(prompt=f"blocking {n}")
            stats.add("blocking")
        except ik.InferenceKeyError:
            stats.add("failed")
        finally:
            stats.add("in_call", -1)


async def launch(url: str, rng: random.Random, stats: Stats) -> list[asyncio.Task[Any]]:
    """Warms the pool with one wave, then starts the calls and streams and returns their tasks
    (still in flight)."""
    client = ik.AsyncDataClient(project="p", base_url=url, api_key=KEY)
    endpoint = client.endpoint("bot")
    await asyncio.gather(*(endpoint.generate_text(prompt=f"warm {i}") for i in range(64)))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            try:
                await endpoint.generate_text(prompt=f"call {i}")
                stats.add("completed")
            except ik.InferenceKeyError:
                stats.add("failed")

    async def stream(i: int) -> None:
        try:
            opened = await endpoint.generate_text_stream(prompt=f"stream {i}")
            async with opened:
                async for _ in opened:
                    stats.add("chunks")
        except ik.InferenceKeyError:
            stats.add("failed")

    tasks = [asyncio.create_task(one(i)) for i in range(CALLS)]
    tasks += [asyncio.create_task(stream(i)) for i in range(STREAMS)]
    await asyncio.sleep(rng.uniform(0, 0.05))
    return tasks


def report(mode: str, tasks: list[asyncio.Task[Any]], stats: Stats, logs: Counting) -> None:
    in_flight = sum(not t.done() for t in tasks)
    print(
        f"exiting mode={mode} in_flight={in_flight} completed={stats.completed} "
        f"failed={stats.failed} blocking={stats.blocking} blocking_in_flight={stats.in_call} "
        f"chunks={stats.chunks} log_records={logs.count}",
        flush=True,
    )


def main() -> None:
    mode, seed, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    logs = Counting()
    logger = logging.getLogger("inferencekey")
    logger.addHandler(logs)
    logger.setLevel(logging.DEBUG)
    server = RawServer(answerer)
    server.start()  # never stopped: its daemon threads are still answering at exit
    stats = Stats()
    for _ in range(BLOCKING_THREADS):
        threading.Thread(target=blocking_calls, args=(server.url, stats), daemon=True).start()

    async def exit_inside_loop() -> None:
        tasks = await launch(server.url, rng, stats)
        report(mode, tasks, stats, logs)
        sys.exit(code)

    if mode == "exit-in-loop":
        loop = asyncio.new_event_loop()
        loop.run_until_complete(exit_inside_loop())
    elif mode == "asyncio-run-exit":
        asyncio.run(exit_inside_loop())
    elif mode == "return":
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()
        tasks = asyncio.run_coroutine_threadsafe(launch(server.url, rng, stats), loop).result()
        report(mode, tasks, stats, logs)
        return  # the daemon threads (loop, blocking calls, server) are still running
    elif mode == "return-blocking":
        for _ in range(BLOCKING_ONLY_THREADS - BLOCKING_THREADS):
            threading.Thread(target=blocking_calls, args=(server.url, stats), daemon=True).start()
        time.sleep(0.2 + rng.uniform(0, 0.05))  # the threads' clients are up and calling
        report(mode, [], stats, logs)
        return
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
