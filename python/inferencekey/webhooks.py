"""Verifying webhook deliveries of async jobs (``Endpoint.submit_job``).

Each delivery is a ``POST`` whose ``X-InferenceKey-Signature: t=<unix seconds>,v1=<hex>``
header signs ``"{t}.{raw body}"`` with HMAC-SHA256 and the destination's secret. Verify the
**raw** request body, before parsing it, and answer 2xx within 3 seconds; deliveries are
at-least-once, so act on each ``job_id`` once (:class:`Deduplicator`)::

    from inferencekey.webhooks import verify, WebhookSignatureError

    event = verify(request_body_bytes, request_headers, secret=os.environ["IK_WEBHOOK_SECRET"])
    if event.event == "job.completed":
        print(event.data.output)

The check itself (header parsing, constant-time comparison, timestamp tolerance) is the
native core's, shared by every language's SDK.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .errors import ValidationError, WebhookSignatureError
from .types import Usage

__all__ = [
    "DEFAULT_TOLERANCE",
    "Deduplicator",
    "JobData",
    "WebhookEvent",
    "WebhookSignatureError",
    "verify",
]

#: Seconds the signed timestamp may be from now, either way, by default.
DEFAULT_TOLERANCE: float = 300.0

Headers = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]]


class _Event(BaseModel):
    # Keys a newer platform adds are kept (``model_extra``), never an error.
    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True, extra="allow")


class JobData(_Event):
    """What a job produced.

    Attributes:
        job_id: The job's id, as ``submit_job`` returned it.
        status: ``completed`` or ``failed``.
        output: The route's JSON response, shaped as the synchronous call's (a chat
            completion, an embeddings list, rerank results).
        usage: Token usage of the job, when reported.
        error: Why the job failed (``message``, ``type``, ``code``), for ``failed``.
        binary_b64: A binary result (audio, images), base64, with its ``content_type``.
        content_type: The media type of ``binary_b64``.
    """

    job_id: str
    status: Literal["completed", "failed"] | str
    output: dict[str, Any] | None = None
    usage: Usage | None = None
    error: dict[str, Any] | None = None
    binary_b64: str | None = None
    content_type: str | None = None


class WebhookEvent(_Event):
    """A verified delivery.

    Attributes:
        event: ``job.completed``, ``job.failed`` or ``ping``.
        ts: When the delivery was made, unix seconds.
        job_id: The job's id (job events).
        context: The ``context`` given to ``submit_job``, echoed back.
        data: The job's result (job events).
    """

    event: Literal["job.completed", "job.failed", "ping"] | str
    ts: int
    job_id: str | None = None
    context: Any = None
    data: JobData | None = None


def _text(value: str | bytes) -> str:
    # Raw ASGI/WSGI headers are bytes; HTTP header bytes map one to one onto latin-1.
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


def verify(
    payload: bytes | bytearray | memoryview | str,
    headers: Headers,
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
) -> WebhookEvent:
    """Verifies one webhook delivery and returns its event.

    Args:
        payload: The raw request body exactly as received (``await request.body()`` in
            FastAPI, ``request.get_data()`` in Flask, ``request.body`` in Django); a ``str``
            is taken as its UTF-8 bytes. Never a parsed and re-serialised body: that changes
            the bytes and fails the signature.
        headers: The request's headers: any mapping (looked up case-insensitively) or
            ``(name, value)`` pairs; ``bytes`` names and values (raw ASGI) are accepted.
        secret: The destination's signing secret (``whsec_…``), as shown once when the
            destination was added.
        tolerance: Largest distance, in seconds, between the signed timestamp and now, in
            either direction (a replayed or a future-dated delivery is refused).

    Returns:
        The event, typed.

    Raises:
        WebhookSignatureError: The delivery does not verify; ``code`` names why
            (``webhook_header_malformed``, ``webhook_signature_mismatch``,
            ``webhook_timestamp_out_of_tolerance``, ``webhook_payload_invalid``).
        ValidationError: An empty secret, a negative or non-finite tolerance, or a
            ``payload`` that is not bytes or text (``invalid_argument``).
    """
    from . import _ffi

    if isinstance(payload, str):
        body = payload.encode("utf-8", "surrogatepass")
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        body = bytes(payload)
    else:
        raise ValidationError(
            f"payload must be the raw request body (bytes), not {type(payload).__name__}: "
            "verify before parsing",
            code="invalid_argument",
            field="payload",
        )
    if not isinstance(secret, str):
        raise ValidationError("secret must be a str", code="invalid_argument", field="secret")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise ValidationError(
            "tolerance must be a number of seconds", code="invalid_argument", field="tolerance"
        )
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = [[_text(name), _text(value)] for name, value in items]
    request = _ffi.encode_config(
        {"headers": pairs, "secret": secret, "tolerance_s": float(tolerance)}
    )
    return WebhookEvent.model_validate(_ffi.verify_webhook(body, request))


class Deduplicator:
    """Remembers the last ``capacity`` job ids seen, for at-least-once deliveries.

    ``first_time(job_id)`` is true once per id (thread-safe), so a handler can skip a
    redelivery::

        seen = Deduplicator()
        if seen.first_time(event.job_id):
            process(event)

    In memory only: a service with several processes deduplicates in its database instead
    (a unique key on ``job_id``).
    """

    def __init__(self, capacity: int = 10_000) -> None:
        """Creates an empty set of ids.

        Args:
            capacity: How many recent ids to remember, at least 1.

        Raises:
            ValidationError: ``capacity`` is not a positive integer.
        """
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValidationError(
                "capacity must be a positive integer", code="invalid_argument", field="capacity"
            )
        self._capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, job_id: str) -> bool:
        """Records ``job_id``.

        Args:
            job_id: The delivery's job id.

        Returns:
            ``True`` the first time an id is seen (within the last ``capacity`` ids).
        """
        with self._lock:
            if job_id in self._seen:
                self._seen.move_to_end(job_id)
                return False
            self._seen[job_id] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True
