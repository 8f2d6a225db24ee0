"""``client.request(...)``: any endpoint, including ones the specs lack, through the pipeline.

The call is described by an :class:`Endpoint` made on the spot: when the method and path
template match a known endpoint, its facts (rate class, auth, envelope, writes) are
used; otherwise the platform's defaults. The result is the decoded JSON body.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from aiofeishu._build import Prepared, _query_value, _to_plain, fill_path
from aiofeishu._endpoint import Endpoint
from aiofeishu.errors import InvalidResponseError, RequestValidationError
from aiofeishu.rate_classes import RATE_CLASSES

if TYPE_CHECKING:
    from aiofeishu._client import BaseClient

__all__ = ["body_of", "raw_call"]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_PLACEHOLDER = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


_DEFAULTS = {
    "project": {
        "rate_limit": "default",
        "auth": "plugin",
        "user_key": "optional",
        "envelope": "project",
    },
    "open": {
        "rate_limit": "open_default",
        "auth": "tenant",
        "user_key": "none",
        "envelope": "open",
    },
}


@functools.lru_cache(maxsize=512)
def _known(platform: str, method: str, template: str) -> Endpoint | None:
    import importlib

    for endpoint in importlib.import_module(f"aiofeishu.{platform}.endpoints").ALL:
        if endpoint.method == method and endpoint.path == template:
            return endpoint  # type: ignore[no-any-return]
    return None


@functools.lru_cache(maxsize=512)  # one Endpoint, so one plan, per raw route
def _endpoint(platform: str, method: str, template: str, writes: bool | None) -> Endpoint:
    known = _known(platform, method, template)
    facts = _DEFAULTS[platform]
    rate_limit = known.rate_limit if known else facts["rate_limit"]
    windows, concurrency = RATE_CLASSES[rate_limit]
    if writes is None:
        writes = known.writes if known else method not in ("GET", "HEAD")
    return Endpoint(
        platform=platform,
        group="raw",
        name="request",
        method=method,
        path=template,
        summary="client.request",
        doc="",
        writes=writes,
        rate_limit=rate_limit,
        windows=windows,
        auth=known.auth if known else facts["auth"],
        user_key=known.user_key if known else facts["user_key"],
        envelope=known.envelope if known else facts["envelope"],
        path_params=tuple(_PLACEHOLDER.findall(template)),
        query_params=(),
        body_params=(),
        file_params=(),
        multipart=False,
        download=False,
        pagination=None,
        errors=(),
        request_type_name="_RawResult",
        response_type_name="_RawResult",
        types=(_RawResult, _RawResult),  # the request type is never used: nothing to validate
        concurrency=concurrency,
    )


class _RawResult(msgspec.Struct, dict=True):
    """Envelope members read by the pipeline; ``client.request`` returns the body itself."""

    err_code: Any = None
    err_msg: Any = None
    err: Any = None
    error: Any = None
    code: Any = None
    msg: Any = None


def raw_call(
    client: BaseClient,
    method: str,
    path: str,
    *,
    path_params: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    json: Any,
    writes: bool | None,
) -> Prepared:
    """The Prepared call of ``client.request``; the pipeline decodes the body to JSON."""
    method = method.upper() if isinstance(method, str) else method
    if method not in _METHODS:
        raise RequestValidationError(f"{method} {path}", f"unsupported HTTP method {method!r}")
    if not isinstance(path, str) or not path.startswith("/") or "://" in path:
        raise RequestValidationError(
            f"{method} {path}", "path must be the API path (starting with /), not a URL"
        )
    endpoint = _endpoint(client._platform, method, path.split("?")[0], writes)
    given = dict(path_params or {})
    missing = sorted(set(endpoint.path_params) - set(given))
    extra = sorted(set(given) - set(endpoint.path_params))
    if missing or extra:
        raise RequestValidationError(
            endpoint.key,
            f"path_params must fill exactly {list(endpoint.path_params)} (missing {missing}, unknown {extra})",
        )
    filled = fill_path(endpoint, _to_plain(endpoint, given))
    query = {str(k): _query_value(v) for k, v in (params or {}).items()} or None
    body = None
    if json is not None or method in ("POST", "PUT", "PATCH"):
        body = msgspec.json.encode(
            _to_plain(endpoint, {"json": {} if json is None else json})["json"]
        )
    return Prepared(endpoint, filled, query, body, None, None, None)


def body_of(result: Any) -> Any:
    """The JSON body behind a raw call's result."""
    try:
        return msgspec.json.decode(result.__dict__["_raw"])
    except (msgspec.DecodeError, RecursionError):
        problem = "the body cannot be read as plain JSON"
    raise InvalidResponseError(problem, status=200, excerpt="", method="request", path="")
