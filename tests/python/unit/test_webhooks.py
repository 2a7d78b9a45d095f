"""``inferencekey.webhooks.verify``: signatures computed here with the ``hmac`` module, never
with the SDK's own signer, so the two implementations check each other."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import pytest

import inferencekey
from inferencekey import ValidationError, WebhookSignatureError
from inferencekey.webhooks import Deduplicator, WebhookEvent, verify

SECRET = "whsec_" + "ab12" * 16
JOB = {
    "event": "job.completed",
    "ts": 1_700_000_000,
    "job_id": "7d7bd2d2-5c1b-4b53-9f55-0f7f3f0b6a10",
    "context": {"order": 42},
    "data": {
        "job_id": "7d7bd2d2-5c1b-4b53-9f55-0f7f3f0b6a10",
        "status": "completed",
        "output": {"object": "list", "data": [{"index": 0, "embedding": [0.5]}]},
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
        "metrics": {"latency_ms": 12},
    },
}
BODY = json.dumps(JOB).encode()


def sign(body: bytes, t: int, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def headers(value: str) -> dict[str, str]:
    return {"X-InferenceKey-Signature": value, "Content-Type": "application/json"}


def test_a_signed_delivery_verifies_into_a_typed_event() -> None:
    event = verify(BODY, headers(sign(BODY, int(time.time()))), SECRET)
    assert isinstance(event, WebhookEvent)
    assert event.event == "job.completed"
    assert event.job_id == JOB["job_id"]
    assert event.context == {"order": 42}
    assert event.data is not None
    assert event.data.status == "completed"
    assert event.data.output == JOB["data"]["output"]  # type: ignore[index]
    assert event.data.usage is not None and event.data.usage.total_tokens == 3
    assert event.data.model_extra == {"metrics": {"latency_ms": 12}}
    assert inferencekey.WebhookEvent is WebhookEvent


@pytest.mark.parametrize(
    "header_source",
    [
        lambda h: {"x-inferencekey-signature": h},
        lambda h: {"X-INFERENCEKEY-SIGNATURE": h},
        lambda h: [("X-InferenceKey-Signature", h)],
        lambda h: [(b"x-inferencekey-signature", h.encode())],  # raw ASGI headers
    ],
    ids=["lower", "upper", "pairs", "asgi-bytes"],
)
def test_header_names_are_case_insensitive_in_any_container(header_source: Any) -> None:
    assert verify(BODY, header_source(sign(BODY, int(time.time()))), SECRET).event


def test_text_payloads_are_their_utf8_bytes() -> None:
    body = json.dumps({**JOB, "context": "café"}, ensure_ascii=False)
    assert verify(body, headers(sign(body.encode(), int(time.time()))), SECRET).context == "café"


def test_a_tampered_body_or_another_secret_is_refused() -> None:
    now = int(time.time())
    tampered = BODY.replace(b'"completed"', b'"failed"   ', 1)
    for body, header in [
        (tampered, sign(BODY, now)),
        (BODY, sign(BODY, now, secret="whsec_other")),
        (json.dumps(JOB, indent=1).encode(), sign(BODY, now)),  # re-encoded JSON
    ]:
        with pytest.raises(WebhookSignatureError) as info:
            verify(body, headers(header), SECRET)
        assert info.value.code == "webhook_signature_mismatch"
        assert SECRET not in str(info.value) and SECRET not in repr(info.value)


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 10**9])
def test_stale_and_future_timestamps_are_refused(offset: int) -> None:
    t = int(time.time()) + offset
    with pytest.raises(WebhookSignatureError) as info:
        verify(BODY, headers(sign(BODY, t)), SECRET)
    assert info.value.code == "webhook_timestamp_out_of_tolerance"
    # A wider tolerance accepts the same delivery.
    assert verify(BODY, headers(sign(BODY, t)), SECRET, tolerance=abs(offset) + 5).event


def test_any_of_several_v1_values_may_match() -> None:
    now = int(time.time())
    good = sign(BODY, now).split(",", 1)[1]
    rotated = f"t={now},v1={'0' * 64},{good},v1=not-hex,v0=ignored"
    assert verify(BODY, headers(rotated), SECRET).event == "job.completed"
    only_bad = f"t={now},v1={'0' * 64},v1={'f' * 64}"
    with pytest.raises(WebhookSignatureError) as info:
        verify(BODY, headers(only_bad), SECRET)
    assert info.value.code == "webhook_signature_mismatch"


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "v1=00", "t=123", "t=abc,v1=00", "t=1.5,v1=00", "t=1,v1=00,t=2", "t=-1,v1=0"],
)
def test_malformed_headers_are_named(header: str) -> None:
    with pytest.raises(WebhookSignatureError) as info:
        verify(BODY, headers(header), SECRET)
    assert info.value.code == "webhook_header_malformed"


def test_a_missing_header_is_malformed() -> None:
    with pytest.raises(WebhookSignatureError) as info:
        verify(BODY, {"Content-Type": "application/json"}, SECRET)
    assert info.value.code == "webhook_header_malformed"
    assert isinstance(info.value, inferencekey.InferenceKeyError)


def test_signed_bytes_that_are_no_event_are_refused() -> None:
    for body in [b"", b"\xff\xfe", b"[1,2]", b'{"event":"job.failed","ts":1,"job_id":"a"}']:
        with pytest.raises(WebhookSignatureError) as info:
            verify(body, headers(sign(body, int(time.time()))), SECRET)
        assert info.value.code == "webhook_payload_invalid", body


def test_a_huge_body_verifies_without_trouble() -> None:
    body = json.dumps({**JOB, "context": "x" * 8_000_000}).encode()
    assert verify(body, headers(sign(body, int(time.time()))), SECRET).event


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"payload": JOB}, "payload"),
        ({"secret": ""}, None),
        ({"secret": 7}, "secret"),
        ({"tolerance": -1}, None),
        ({"tolerance": float("nan")}, None),
        ({"tolerance": "300"}, "tolerance"),
    ],
)
def test_bad_arguments_are_validation_errors(kwargs: dict[str, Any], field: str | None) -> None:
    args: dict[str, Any] = {
        "payload": BODY,
        "headers": headers(sign(BODY, int(time.time()))),
        "secret": SECRET,
        **kwargs,
    }
    with pytest.raises(ValidationError) as info:
        verify(**args)
    assert info.value.code == "invalid_argument"
    if field:
        assert info.value.field == field


def test_the_deduplicator_admits_each_job_once_across_threads() -> None:
    seen = Deduplicator(capacity=3)
    admitted: list[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        if seen.first_time("job-1"):
            with lock:
                admitted.append("job-1")

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted == ["job-1"]
    for job in ("a", "b", "c"):
        assert seen.first_time(job)
    assert seen.first_time("job-1")  # forgotten: only the last 3 ids are kept
    with pytest.raises(ValidationError):
        Deduplicator(capacity=0)


def post(url: str, body: bytes, signature: str | None) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST")
    if signature is not None:
        request.add_header("X-InferenceKey-Signature", signature)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_receiver_fixture_verifies_and_refuses(webhook_receiver: Any) -> None:
    from inferencekey.testing import WebhookReceiver

    assert isinstance(webhook_receiver, WebhookReceiver)
    webhook_receiver.secret = SECRET
    now = int(time.time())
    assert post(webhook_receiver.url, BODY, sign(BODY, now)) == 200
    assert post(webhook_receiver.url, BODY, sign(BODY, now, secret="whsec_x")) == 400
    assert post(webhook_receiver.url, BODY, None) == 400
    [ok] = webhook_receiver.wait_for(1, timeout=5)
    assert ok.event.job_id == JOB["job_id"]
    assert [d.answered for d in webhook_receiver.deliveries] == [200, 400, 400]
    codes = [getattr(d.error, "code", None) for d in webhook_receiver.deliveries[1:]]
    assert codes == ["webhook_signature_mismatch", "webhook_header_malformed"]
    with pytest.raises(TimeoutError, match="1 of 2 deliveries"):
        webhook_receiver.wait_for(2, timeout=0.2)


def test_the_receiver_answers_as_told() -> None:
    from inferencekey.testing import WebhookReceiver

    with WebhookReceiver(SECRET, respond=lambda n: 503 if n == 1 else 302) as receiver:
        now = int(time.time())
        assert post(receiver.url, BODY, sign(BODY, now)) == 503
        assert post(receiver.url, BODY, sign(BODY, now)) == 302
        assert "whsec" not in repr(receiver)
