"""InferenceKey: declare AI inference workloads in code and call them.

Two planes, two tokens (least privilege):

* ``ManagementClient`` (an ``ik_sdk_`` token, one project) reconciles declared
  ``WorkloadSpec`` objects with what exists: ``ensure()``, ``plan()``, ``get()``, ``list()``,
  ``delete()``, ``wait_until_ready()``.
* ``DataClient`` hands out per-workload ``Endpoint`` objects, each called with its own
  ``ik_live_`` key: ``generate_text()``, ``generate_text_stream()``, ``embed()``, ``rerank()``.

The async twins (``AsyncManagementClient``, ``AsyncDataClient``) live in
``inferencekey.aio``, the errors in ``inferencekey.errors``; all are importable from here.
Everything runs in one native core (Rust) reached through a C ABI; nothing starts at import.
"""

from typing import TYPE_CHECKING, Any

from . import _logging
from ._version import __version__
from .enums import Backend, EnsureAction, ExecutionPolicy, JobKind, OnDrift, TaskType
from .errors import (
    APIConnectionError,
    ApiError,
    APITimeoutError,
    AuthError,
    ConfigurationError,
    ConflictError,
    DriftError,
    DriftWarning,
    FrozenInstanceError,
    InferenceKeyError,
    InternalServerError,
    NotFoundError,
    PermissionDenied,
    RateLimitError,
    ReadinessError,
    ReadinessTimeoutError,
    ValidationError,
    WebhookSignatureError,
)

if TYPE_CHECKING:
    from ._streams import ReadinessStream, TextStream
    from .aio import (
        AsyncDataClient,
        AsyncEndpoint,
        AsyncManagementClient,
        AsyncReadinessStream,
        AsyncTextStream,
    )
    from .data import DataClient, Endpoint
    from .management import ManagementClient
    from .types import (
        EmbedResult,
        EndpointRef,
        EnsureResult,
        FieldChange,
        JobRef,
        ReadinessEvent,
        RerankItem,
        RerankResult,
        TextChunk,
        TextResult,
        Timeout,
        Usage,
        Workload,
        WorkloadSpec,
    )
    from .webhooks import WebhookEvent

_logging.configure_from_env()

# Where each lazily imported name lives (PEP 562). The clients, the async module (asyncio)
# and the pydantic models are loaded on first use, not by ``import inferencekey``: that
# halves the import time, and a program that never calls the async twins never loads asyncio.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("DataClient", "Endpoint"), "data"),
    "ManagementClient": "management",
    **dict.fromkeys(("ReadinessStream", "TextStream"), "_streams"),
    **dict.fromkeys(
        (
            "AsyncDataClient",
            "AsyncEndpoint",
            "AsyncManagementClient",
            "AsyncReadinessStream",
            "AsyncTextStream",
        ),
        "aio",
    ),
    **dict.fromkeys(("WebhookEvent",), "webhooks"),
    **dict.fromkeys(
        (
            "EmbedResult",
            "EndpointRef",
            "EnsureResult",
            "FieldChange",
            "JobRef",
            "ReadinessEvent",
            "RerankItem",
            "RerankResult",
            "TextChunk",
            "TextResult",
            "Timeout",
            "Usage",
            "Workload",
            "WorkloadSpec",
        ),
        "types",
    ),
}


# The public submodules that ``import inferencekey`` used to load, still reachable as
# attributes (``inferencekey.types.X``) without importing them first.
_SUBMODULES: tuple[str, ...] = ("aio", "data", "management", "types", "webhooks")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None and name not in _SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    if module is None:
        return import_module(f"{__name__}.{name}")  # which also sets the attribute
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "ApiError",
    "AsyncDataClient",
    "AsyncEndpoint",
    "AsyncManagementClient",
    "AsyncReadinessStream",
    "AsyncTextStream",
    "AuthError",
    "Backend",
    "ConfigurationError",
    "ConflictError",
    "DataClient",
    "DriftError",
    "DriftWarning",
    "EmbedResult",
    "Endpoint",
    "EndpointRef",
    "EnsureAction",
    "EnsureResult",
    "ExecutionPolicy",
    "FieldChange",
    "FrozenInstanceError",
    "InferenceKeyError",
    "InternalServerError",
    "JobKind",
    "JobRef",
    "ManagementClient",
    "NotFoundError",
    "OnDrift",
    "PermissionDenied",
    "RateLimitError",
    "ReadinessError",
    "ReadinessEvent",
    "ReadinessStream",
    "ReadinessTimeoutError",
    "RerankItem",
    "RerankResult",
    "TaskType",
    "TextChunk",
    "TextResult",
    "TextStream",
    "Timeout",
    "Usage",
    "ValidationError",
    "WebhookEvent",
    "WebhookSignatureError",
    "Workload",
    "WorkloadSpec",
    "__version__",
]
