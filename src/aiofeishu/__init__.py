"""aiofeishu: asyncio SDK for the Feishu Project Open API and Feishu Open Platform endpoints.

Light to import: clients, models and the endpoint registry load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiofeishu.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    FeishuConnectionError,
    FeishuError,
    FeishuTimeoutError,
    IdempotencyError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResultLimitError,
    ServerError,
)

if TYPE_CHECKING:
    from aiofeishu._api import Download, FileUpload, Paginated, RequestOptions
    from aiofeishu._auth import UserToken
    from aiofeishu._endpoint import Endpoint
    from aiofeishu._open_client import OpenClient
    from aiofeishu._project_client import ProjectClient
    from aiofeishu.fields import typed_value

__version__ = "0.1.0"

_LAZY = {
    "ProjectClient": "aiofeishu._project_client",
    "OpenClient": "aiofeishu._open_client",
    "RequestOptions": "aiofeishu._api",
    "Paginated": "aiofeishu._api",
    "Download": "aiofeishu._api",
    "FileUpload": "aiofeishu._api",
    "UserToken": "aiofeishu._auth",
    "Endpoint": "aiofeishu._endpoint",
    "typed_value": "aiofeishu.fields",
}

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "Download",
    "Endpoint",
    "FeishuConnectionError",
    "FeishuError",
    "FeishuTimeoutError",
    "FileUpload",
    "IdempotencyError",
    "InvalidResponseError",
    "NotFoundError",
    "OpenClient",
    "Paginated",
    "PermissionDeniedError",
    "ProjectClient",
    "RateLimitError",
    "RequestOptions",
    "RequestValidationError",
    "ResultLimitError",
    "ServerError",
    "UserToken",
    "typed_value",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiofeishu' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
