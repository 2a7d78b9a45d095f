"""What ``import inferencekey`` and creating the clients load: not asyncio, pydantic,
pydantic-core, logging or difflib, which come with the first use of what needs them (PEP 562). Each
check runs in a fresh interpreter, where nothing is loaded yet."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import inferencekey

HEAVY = ("asyncio", "pydantic", "pydantic_core", "logging", "difflib")
SDK_TOKEN = "ik_sdk_1a2b3c4d_" + "0" * 64
LIVE_KEY = "ik_live_1a2b3c4d_" + "0" * 64

_REPORT = """
import json, sys
heavy = {heavy!r}
print(json.dumps({{"loaded": sorted(m for m in heavy if m in sys.modules), "extra": extra}}))
"""


def _fresh(code: str) -> dict[str, object]:
    """Runs ``code`` (which sets ``extra``) in a fresh interpreter, then reports which of
    the heavy modules are loaded."""
    env = {"PATH": "/usr/bin:/bin", "INFERENCEKEY_LOG": ""}
    proc = subprocess.run(
        [sys.executable, "-c", code + _REPORT.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_import_and_both_clients_load_none_of_the_heavy_modules() -> None:
    report = _fresh(
        "import inferencekey\n"
        f"m = inferencekey.ManagementClient(base_url='http://127.0.0.1:9', project='acme',"
        f" sdk_token={SDK_TOKEN!r})\n"
        f"d = inferencekey.DataClient(base_url='http://127.0.0.1:9', project='acme',"
        f" api_key={LIVE_KEY!r})\n"
        "extra = [m.base_url, d.project]\n"
    )
    assert report == {"loaded": [], "extra": ["http://127.0.0.1:9", "acme"]}


def test_a_client_given_a_number_as_timeout_needs_no_model() -> None:
    report = _fresh(
        "from inferencekey import DataClient\n"
        "d = DataClient(base_url='http://127.0.0.1:9', project='acme', timeout=7)\n"
        "extra = d.with_options(max_retries=1).max_retries\n"
    )
    assert report == {"loaded": [], "extra": 1}


def test_the_timeout_property_loads_the_model_on_first_use() -> None:
    report = _fresh(
        "from inferencekey import DataClient\n"
        "t = DataClient(base_url='http://127.0.0.1:9', project='acme', timeout=7).timeout\n"
        "extra = [type(t).__name__, t.request, t.connect]\n"
    )
    assert report["extra"] == ["Timeout", 7.0, 5.0]
    assert "pydantic" in report["loaded"]


def test_a_timeout_object_is_still_read_by_a_client() -> None:
    report = _fresh(
        "from inferencekey import DataClient, Timeout\n"
        "t = DataClient(base_url='http://127.0.0.1:9', project='acme',"
        " timeout=Timeout(request=3, connect=2)).timeout\n"
        "extra = [t.request, t.connect]\n"
    )
    assert report["extra"] == [3.0, 2.0]


@pytest.mark.parametrize(
    ("name", "module"),
    [("AsyncDataClient", "asyncio"), ("WorkloadSpec", "pydantic"), ("TextStream", "pydantic")],
)
def test_a_lazy_name_loads_what_it_needs(name: str, module: str) -> None:
    report = _fresh(f"import inferencekey\nextra = inferencekey.{name}.__name__\n")
    assert report["extra"] == name
    assert module in report["loaded"]


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from inferencekey import *", namespace)
    missing = [name for name in inferencekey.__all__ if name not in namespace]
    assert missing == []


def test_dir_lists_every_public_name_before_it_is_loaded() -> None:
    report = _fresh("import inferencekey\nextra = sorted(dir(inferencekey))\n")
    listed = set(report["extra"])  # type: ignore[arg-type]
    assert set(inferencekey.__all__) <= listed
    assert report["loaded"] == []


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        inferencekey.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        exec("from inferencekey import NoSuchThing", {})


@pytest.mark.parametrize("module", ["aio", "data", "management", "types"])
def test_public_submodules_are_still_attributes_of_the_package(module: str) -> None:
    report = _fresh(f"import inferencekey\nextra = inferencekey.{module}.__name__\n")
    assert report["extra"] == f"inferencekey.{module}"
