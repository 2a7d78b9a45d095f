"""``submit_job``'s local checks: every rule the server would answer with a 400 fails here
first, as a ``ValidationError`` naming the rule, and sends nothing. (Submissions to the real
local platform are in ``integration/test_jobs.py``.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from inferencekey import AsyncDataClient, DataClient, JobKind, ValidationError

KEY = "ik_live_1a2b3c4d_" + "0" * 64
# Nothing listens on port 1: a request that went out would fail with APIConnectionError.
UNREACHABLE = "http://127.0.0.1:1"

CASES: list[tuple[dict[str, Any], str]] = [
    ({"kind": "sing", "body": {}}, "unknown job kind"),
    ({"kind": "chat-completions", "body": {}}, "one of chat (chat_completions), embeddings"),
    ({"kind": "chat", "body": b"\x00audio", "content_type": "audio/wav"}, "chat job"),
    ({"kind": "audio_transcriptions", "body": b"RIFF"}, "content_type"),
    ({"kind": "audio_speech", "body": b"x", "content_type": "a\nb"}, "content_type"),
    ({"kind": "embeddings", "body": {"input": ["a"]}, "content_type": "x/y"}, "content_type"),
    ({"kind": "embeddings", "body": ["not", "a", "mapping"]}, "mapping"),
    ({"kind": "embeddings", "body": "text"}, "mapping"),
]


@pytest.mark.parametrize(("kwargs", "says"), CASES)
def test_bad_submissions_fail_locally(kwargs: dict[str, Any], says: str) -> None:
    args = dict(kwargs)
    data = DataClient(project="acme", base_url=UNREACHABLE, api_key=KEY, max_retries=0)
    with data, pytest.raises(ValidationError) as info:
        data.endpoint("bot").submit_job(args.pop("kind"), args.pop("body"), **args)
    assert info.value.code == "invalid_argument"
    assert says in info.value.message


@pytest.mark.parametrize(("kwargs", "says"), CASES[:3])
def test_async_submissions_share_the_checks(kwargs: dict[str, Any], says: str) -> None:
    async def go() -> None:
        async with AsyncDataClient(
            project="acme", base_url=UNREACHABLE, api_key=KEY, max_retries=0
        ) as data:
            args = dict(kwargs)
            with pytest.raises(ValidationError) as info:
                await data.endpoint("bot").submit_job(args.pop("kind"), args.pop("body"), **args)
            assert says in info.value.message

    asyncio.run(go())


def test_job_kinds_are_the_wire_names() -> None:
    assert [k.value for k in JobKind] == [
        "chat",
        "embeddings",
        "rerank",
        "audio_speech",
        "audio_generate",
        "audio_transcriptions",
        "images",
        "images_edits",
        "images_variations",
        "forecast",
    ]
    assert str(JobKind.CHAT) == "chat"
