"""``embed(..., as_numpy=True)`` without a server: numpy stays optional, and what cannot
become one 2-D array fails with a typed error. (The zero-copy view of real responses is
checked in ``integration/test_data_plane.py``.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest

from inferencekey import AsyncDataClient, ConfigurationError, DataClient, ValidationError
from inferencekey.types import NumpyEmbedResult

KEY = "ik_live_1a2b3c4d_" + "0" * 64
# Nothing listens on port 1: a request that went out would fail with APIConnectionError.
UNREACHABLE = "http://127.0.0.1:1"


def test_importing_the_package_does_not_import_numpy() -> None:
    code = "import sys, inferencekey, inferencekey.aio; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_numpy_is_a_configuration_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # makes `import numpy` raise ImportError
    data = DataClient(project="acme", base_url=UNREACHABLE, api_key=KEY, max_retries=0)
    with data, pytest.raises(ConfigurationError, match="needs numpy") as caught:
        data.endpoint("e").embed(input="x", as_numpy=True)
    assert caught.value.code == "missing_dependency"

    async def go() -> None:
        async with AsyncDataClient(
            project="acme", base_url=UNREACHABLE, api_key=KEY, max_retries=0
        ) as client:
            await client.endpoint("e").embed(input="x", as_numpy=True)

    with pytest.raises(ConfigurationError, match="needs numpy"):
        asyncio.run(go())


def test_packed_vectors_become_a_read_only_view_of_their_bytes() -> None:
    part = np.arange(6, dtype="<f8").tobytes()
    packed = {"offset": 100, "length": 48, "dtype": "f64", "rows": 2, "cols": 3}
    result = NumpyEmbedResult._from_native({"embeddings": packed, "model": "m"}, part)
    assert result.embeddings.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert np.shares_memory(result.embeddings, np.frombuffer(part, dtype="<f8"))
    assert not result.embeddings.flags.writeable
    assert result.model == "m" and result.usage is None
    assert "shape=(2, 3)" in repr(result)


def test_packed_vectors_that_do_not_match_their_shape_are_refused() -> None:
    packed = {"offset": 100, "length": 40, "dtype": "f64", "rows": 2, "cols": 3}
    with pytest.raises(ValueError, match="do not match their shape"):
        NumpyEmbedResult._from_native({"embeddings": packed}, b"\0" * 40)


def test_vectors_given_as_lists_are_copied_and_ragged_ones_refused() -> None:
    result = NumpyEmbedResult._from_native({"embeddings": [[1.0, 2.0], [3.0, 4.0]]})
    assert result.embeddings.shape == (2, 2) and not result.embeddings.flags.writeable
    assert NumpyEmbedResult._from_native({"embeddings": []}).embeddings.shape == (0, 0)
    with pytest.raises(ValidationError, match="different lengths") as caught:
        NumpyEmbedResult._from_native({"embeddings": [[1.0, 2.0], [3.0]]})
    assert caught.value.code == "ragged_embeddings"
    assert caught.value.field == "embeddings"
