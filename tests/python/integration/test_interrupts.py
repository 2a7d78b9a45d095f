"""Ctrl-C during a blocking call (sdk-behaviour §10): ``KeyboardInterrupt`` within about a
second, the request abandoned in the core, the client still usable; a signal whose handler
returns does not disturb the call.

Each case runs a child interpreter that calls a server of this process (a silent one that
never answers, or a scripted one that answers late) on its main thread, and signals it from
here. The child installs Python's own SIGINT handler: a shell may start background jobs with
SIGINT ignored, which Python would otherwise keep.

No async twins: asyncio cancels its calls itself (``test_async.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
from support import faults

pytestmark = pytest.mark.timeout(60)

KEY = faults.well_formed("live")
SDK = faults.well_formed("sdk")
CHAT = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "late"}}],
}
#: "About a second" (sdk §10), with room for a loaded machine.
PROMPT_S = 2.5

CHILD = textwrap.dedent(
    """
    import json, signal, sys, time
    from inferencekey import DataClient, ManagementClient

    signal.signal(signal.SIGINT, signal.default_int_handler)
    usr1 = []
    signal.signal(signal.SIGUSR1, lambda *_: usr1.append(time.monotonic()))
    silent, answering, call = sys.argv[1], sys.argv[2], sys.argv[3]
    data = DataClient(project="acme", base_url=silent, api_key={key!r}, timeout=30)
    mgmt = ManagementClient(project="acme", base_url=silent, sdk_token={sdk!r}, timeout=30)
    # The silent server never answers a ClientHello: the call waits in its TLS handshake.
    tls = DataClient(
        project="acme", base_url=silent.replace("http:", "https:"), api_key={key!r}, timeout=30
    )
    calls = {{
        "generate_text": lambda: data.endpoint("bot").generate_text(prompt="hi"),
        "tls_handshake": lambda: tls.endpoint("bot").generate_text(prompt="hi"),
        "generate_text_stream": lambda: data.endpoint("bot").generate_text_stream(prompt="hi"),
        "wait_until_ready": lambda: mgmt.wait_until_ready("bot", timeout=30),
        "list": lambda: mgmt.list(),
    }}
    print("calling", flush=True)
    report = {{}}
    try:
        result = calls[call]()
        report["text"] = result.text
    except KeyboardInterrupt:
        report["interrupted_at"] = time.monotonic()
    report["usr1"] = len(usr1)
    # The same clients still work afterwards.
    late = DataClient(project="acme", base_url=answering, api_key={key!r})
    report["after"] = late.endpoint("bot").generate_text(prompt="again").text
    print(json.dumps(report), flush=True)
    """
).format(key=KEY, sdk=SDK)


@pytest.fixture
def silent() -> Iterator[faults.SilentServer]:
    with faults.SilentServer() as server:
        yield server


def run_child(
    silent_url: str, answering_url: str, call: str, sig: signal.Signals, after_s: float = 0.3
) -> tuple[dict[str, object], float]:
    """Starts the child, sends ``sig`` once it is inside ``call``, returns its report and
    when the signal was sent (``time.monotonic``, the same clock in both processes)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, silent_url, answering_url, call],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "calling"
        time.sleep(after_s)
        sent = time.monotonic()
        child.send_signal(sig)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), sent


@pytest.mark.parametrize(
    "call", ["generate_text", "tls_handshake", "generate_text_stream", "wait_until_ready", "list"]
)
def test_ctrl_c_interrupts_a_blocking_call_within_about_a_second(
    silent: faults.SilentServer, call: str
) -> None:
    with faults.ScriptedServer([faults.Reply(body=CHAT)]) as answering:
        report, sent = run_child(silent.url, answering.url, call, signal.SIGINT)
    assert "text" not in report
    interrupted_at = report["interrupted_at"]
    assert isinstance(interrupted_at, float)
    assert 0 <= interrupted_at - sent < PROMPT_S
    assert report["after"] == "late"


def test_a_signal_whose_handler_returns_does_not_disturb_the_call() -> None:
    with faults.ScriptedServer([faults.Reply(body=CHAT, delay=1.0)]) as late:
        report, _ = run_child(late.url, late.url, "generate_text", signal.SIGUSR1)
        assert len(late.requests) == 2  # the call was not repeated
    assert report["text"] == "late"
    assert report["usr1"] == 1
    assert report["after"] == "late"


def test_exit_with_a_daemon_thread_blocked_in_a_call(silent: faults.SilentServer) -> None:
    """The interrupt check runs Python on the blocked thread every 50 ms: once the
    interpreter is finalizing it must not run any more (``ik_runtime_shutdown`` at exit removes it),
    or CPython would end that thread mid-call and the process would abort."""
    script = textwrap.dedent(
        f"""
        import threading, time
        from inferencekey import DataClient
        ep = DataClient(project="acme", base_url={silent.url!r}, api_key={KEY!r},
                        timeout=30).endpoint("bot")
        threading.Thread(target=lambda: ep.generate_text(prompt="hi"), daemon=True).start()
        time.sleep(0.6)
        print("exiting", flush=True)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCEKEY_")}
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30
        )
        assert (done.returncode, done.stdout.strip()) == (0, "exiting"), done.stderr
