"""Exceptions. Everything aiofeishu raises is a FeishuError.

The class of an API error is chosen in one place, :func:`error_class`, from the
doc pages' error tables (specs/errors.yaml) and then the HTTP status.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "FeishuConnectionError",
    "FeishuError",
    "FeishuTimeoutError",
    "IdempotencyError",
    "InvalidResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResultLimitError",
    "ServerError",
]


class FeishuError(Exception):
    """Base of every exception raised by aiofeishu."""


class ConfigurationError(FeishuError, ValueError):
    """The client is missing something it needs (credentials, user key, base URL)."""


class RequestValidationError(FeishuError, ValueError):
    """Arguments break the endpoint's spec; raised before anything is sent.

    ``field_path`` names the offending argument (``$.update_fields[0].field_key``).
    """

    def __init__(self, endpoint: str, message: str, field_path: str | None = None) -> None:
        self.endpoint = endpoint
        self.field_path = field_path
        super().__init__(f"{endpoint}: invalid arguments: {message}")


def validation_path(message: str) -> str | None:
    """Where a msgspec validation message points (``$.update_fields[0]``), if it says."""
    return message.rsplit(" - at ", 1)[1].strip("`") if " - at " in message else None


class FeishuConnectionError(FeishuError):
    """The request did not get an HTTP response (connection refused, reset, DNS…)."""


class FeishuTimeoutError(FeishuConnectionError):
    """No complete response within the timeout."""


class InvalidResponseError(FeishuError):
    """The server answered with something that is not the API's JSON (e.g. a gateway's HTML 502)."""

    def __init__(self, message: str, *, status: int, excerpt: str, method: str, path: str) -> None:
        self.status = status
        self.excerpt = excerpt
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: HTTP {status}: {message}: {excerpt!r}")


class ResultLimitError(FeishuError):
    """Paging would go past the results cap the docs state for this endpoint."""


class APIError(FeishuError):
    """The API answered with an error.

    Attributes: ``status`` (HTTP), ``code`` (err_code / code), ``msg``, ``log_id``,
    ``method``, ``path``, ``detail`` (the ``err`` object), ``hint`` (the docs'
    meaning and advice for this code, when the docs list it).
    """

    def __init__(
        self,
        *,
        status: int,
        code: int | None,
        msg: str,
        log_id: str | None,
        method: str,
        path: str,
        detail: Any = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.msg = msg
        self.log_id = log_id
        self.method = method
        self.path = path
        self.detail = detail
        self.hint = hint
        self.retry_after = retry_after
        text = f"{method} {path}: HTTP {status}, code {code}: {msg}"
        if log_id:
            text += f" (log_id {log_id})"
        if hint:
            text += f" — {hint}"
        super().__init__(text)


class BadRequestError(APIError):
    """400: the request was refused as malformed or invalid."""


class AuthenticationError(APIError):
    """The token is missing, invalid, expired or lacks the API permission."""


class PermissionDeniedError(APIError):
    """The acting user or app may not do this."""


class NotFoundError(APIError):
    """The addressed item does not exist."""


class RateLimitError(APIError):
    """Too many requests (429 / 10429 / 99991400)."""


class IdempotencyError(APIError):
    """10430: the X-IDEM-UUID was already used for another request."""


class ServerError(APIError):
    """5xx or 50006: the service failed."""


_BY_KIND: dict[str, type[APIError]] = {
    "bad_request": BadRequestError,
    "auth": AuthenticationError,
    "permission": PermissionDeniedError,
    "not_found": NotFoundError,
    "rate_limit": RateLimitError,
    "idempotency": IdempotencyError,
    "server": ServerError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_facts(
    platform: str, code: int | None
) -> tuple[int | None, str, tuple[str, ...], tuple[str, ...]] | None:
    """The docs' facts for a code: (status, kind, messages, hints), or None."""
    if code is None:
        return None
    from aiofeishu import error_codes  # a large table: loaded only when an error happens

    table = error_codes.PROJECT if platform == "project" else error_codes.OPEN
    return table.get(code)


def error_class(platform: str, status: int, code: int | None) -> type[APIError]:
    """The single status/code → exception mapping."""
    if code == 10430:
        return IdempotencyError
    if code in (10429, 99991400) or status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    facts = error_facts(platform, code)
    if facts is not None:
        return _BY_KIND.get(facts[1], APIError)
    return _BY_STATUS.get(status, APIError)


def make_api_error(
    platform: str,
    *,
    status: int,
    code: int | None,
    msg: str,
    log_id: str | None,
    method: str,
    path: str,
    detail: Any = None,
    retry_after: float | None = None,
) -> APIError:
    facts = error_facts(platform, code)
    hint = "; ".join(facts[3]) if facts and facts[3] else None
    cls = error_class(platform, status, code)
    return cls(
        status=status,
        code=code,
        msg=msg,
        log_id=log_id,
        method=method,
        path=path,
        detail=detail,
        hint=hint,
        retry_after=retry_after,
    )
