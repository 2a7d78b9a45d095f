"""Blocking text streams do their I/O on the caller's thread, like blocking calls (issue 13):
the exchange is made there (its log record names that thread), no runtime thread is ever
started for it, and a read blocked there still yields to Ctrl-C and to ``close()`` from
another thread.

The server is a raw socket answerer of this process, so that it can stop mid-body.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
from support import faults

from inferencekey import DataClient, InferenceKeyError, _streams

pytestmark = pytest.mark.timeout(60)

KEY = faults.well_formed("live")
PROMPT_S = 2.5


def _event(text: str, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return b"data: " + json.dumps({"id": "c1", "choices": [choice]}).encode() + b"\n\n"


class SseServer:
    """Answers every request on a connection with a chunked `text/event-stream`: the given
    events, then either the end (`[DONE]` and the last chunk) or silence (``stall``)."""

    def __init__(self, events: list[bytes], stall: bool = False) -> None:
        self.events, self.stall = events, stall
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.closed = threading.Event()
        self.connections = 0
        self.opened = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head, _, data = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(data) < length:
                    data += conn.recv(65536)
                data = data[length:]
                self.opened += 1
                body = b"".join(self.events)
                if not self.stall:
                    body += b"data: [DONE]\n\n"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"X-Request-Id: req_thread\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + f"{len(body):x}\r\n".encode()
                    + body
                    + b"\r\n"
                    + (b"" if self.stall else b"0\r\n\r\n")
                )
                if self.stall:
                    # Silent until the client goes away.
                    while conn.recv(65536):
                        pass
                    self.closed.set()
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def whole() -> Iterator[SseServer]:
    server = SseServer([_event("a"), _event("b"), _event("", "stop")])
    yield server
    server.close()


@pytest.fixture
def stalling() -> Iterator[SseServer]:
    server = SseServer([_event("first")], stall=True)
    yield server
    server.close()


CHILD = textwrap.dedent(
    """
    import json, logging, os, sys, threading
    from inferencekey import DataClient

    names = []
    class Names(logging.Handler):
        def emit(self, record):
            if record.name == "inferencekey.http":
                names.append(record.threadName)
    logging.getLogger("inferencekey").addHandler(Names())
    logging.getLogger("inferencekey").setLevel(logging.DEBUG)
    data = DataClient(project="acme", base_url=sys.argv[1], api_key={key!r})
    out = {{}}

    def read():
        for _ in range(2):
            with data.endpoint("bot").generate_text_stream(prompt="hi") as stream:
                chunks = list(stream)
        out["texts"] = [c.text for c in chunks]
        out["finish"] = chunks[-1].finish_reason
        out["raw"] = chunks[0].raw
        out["request_id"] = stream.request_id

    reader = threading.Thread(target=read, name="stream-reader")
    reader.start()
    reader.join()
    def comm(task):
        # A thread may end between the listing and the read (the joined reader, a DNS helper).
        try:
            with open(f"/proc/self/task/{{task}}/comm") as f:
                return f.read().strip()
        except FileNotFoundError:
            return None
    names_now = (comm(t) for t in os.listdir("/proc/self/task"))
    out["threads"] = [n for n in names_now if n is not None]
    out["log_threads"] = names
    print(json.dumps(out), flush=True)
    """
).format(key=KEY)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc thread names")
def test_a_blocking_stream_runs_on_the_calling_thread(whole: SseServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    run = subprocess.run(
        [sys.executable, "-c", CHILD, whole.url],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["texts"] == ["a", "b", ""]
    assert out["finish"] == "stop"
    assert out["raw"]["choices"][0]["delta"] == {"content": "a"}
    assert out["request_id"] == "req_thread"
    # Each exchange was made by the reading thread, and the shared runtime never started.
    assert out["log_threads"] == ["stream-reader", "stream-reader"]
    assert not [name for name in out["threads"] if name.startswith("inferencekey-rt")]
    # The ended stream gave its connection back: the second stream reused it (the whole
    # answer goes out in one write, so the client holds its end when `[DONE]` is read).
    assert (whole.opened, whole.connections) == (2, 1)


STALL_CHILD = textwrap.dedent(
    """
    import json, signal, sys, time
    from inferencekey import DataClient

    signal.signal(signal.SIGINT, signal.default_int_handler)
    data = DataClient(project="acme", base_url=sys.argv[1], api_key={key!r}, timeout=30)
    stream = data.endpoint("bot").generate_text_stream(prompt="hi")
    report = {{"first": next(stream).text}}
    print("reading", flush=True)
    try:
        next(stream)
    except KeyboardInterrupt:
        report["interrupted_at"] = time.monotonic()
    print(json.dumps(report), flush=True)
    """
).format(key=KEY)


def test_ctrl_c_interrupts_a_blocked_stream_read(stalling: SseServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    child = subprocess.Popen(
        [sys.executable, "-c", STALL_CHILD, stalling.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "reading"
        time.sleep(0.3)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["first"] == "first"
    assert 0 <= report["interrupted_at"] - sent < PROMPT_S


def test_close_from_another_thread_wakes_a_blocked_read(stalling: SseServer) -> None:
    data = DataClient(project="acme", base_url=stalling.url, api_key=KEY, timeout=30)
    stream = data.endpoint("bot").generate_text_stream(prompt="hi")
    assert next(stream).text == "first"
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            next(stream)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    started = time.monotonic()
    # What close() does first (its free must wait until the reader is out of the call).
    _streams._close(stream._handle.ptr)
    reader.join(5)
    assert not reader.is_alive()
    assert time.monotonic() - started < PROMPT_S
    assert isinstance(outcome[0], InferenceKeyError), outcome
    assert outcome[0].code == "cancelled"
    assert stalling.closed.wait(5)  # the connection was shut down
    stream.close()
