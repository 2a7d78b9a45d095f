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

from . import _logging
from ._streams import ReadinessStream, TextStream
from ._version import __version__
from .aio import (
    AsyncDataClient,
    AsyncEndpoint,
    AsyncManagementClient,
    AsyncReadinessStream,
    AsyncTextStream,
)
from .data import DataClient, Endpoint
from .enums import Backend, EnsureAction, ExecutionPolicy, OnDrift, TaskType
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
)
from .management import ManagementClient
from .types import (
    EmbedResult,
    EndpointRef,
    EnsureResult,
    FieldChange,
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

_logging.configure_from_env()

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
    "Workload",
    "WorkloadSpec",
    "__version__",
]
