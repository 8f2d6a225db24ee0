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
    "UnexpectedRedirectError",
]


def _restore(cls: type[FeishuError], args: tuple[Any, ...], state: dict[str, Any]) -> FeishuError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class FeishuError(Exception):
    """Base of every exception raised by aiofeishu.

    ``idempotency_key``: for a writing call, the X-IDEM-UUID it was sent with. A write
    whose outcome is unknown (its first attempt may have committed) can be retried
    safely with ``RequestOptions(idempotency_key=error.idempotency_key)``.
    """

    idempotency_key: str | None = None

    def __reduce__(self) -> Any:
        # Keyword-only constructors do not survive Exception's default pickling
        # (task queues, multiprocessing): rebuild from the message and attributes.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ConfigurationError(FeishuError, ValueError):
    """The client is missing something it needs (credentials, user key, base URL)."""


class RequestValidationError(FeishuError, ValueError):
    """Arguments break the endpoint's spec; raised before anything is sent.

    ``field_path`` names the offending argument (``$.update_fields[0].field_key``).
    """

    def __init__(
        self,
        endpoint: str,
        message: str,
        field_path: str | None = None,
        *,
        method_name: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.field_path = field_path
        self.method_name = method_name
        where = f"{method_name} ({endpoint})" if method_name else endpoint
        super().__init__(f"{where}: invalid arguments: {message}")


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


class UnexpectedRedirectError(InvalidResponseError):
    """The server answered with a redirect. The APIs never redirect, so it is not followed:
    following would send the token and the body to another host. ``location`` is the
    target's origin only (scheme, host and port)."""

    def __init__(self, *, status: int, location: str, method: str, path: str) -> None:
        self.location = location
        super().__init__(
            f"redirected to {location or 'an unnamed location'}; not followed",
            status=status,
            excerpt="",
            method=method,
            path=path,
        )


class ResultLimitError(FeishuError):
    """Paging would go past the results cap the docs state for this endpoint."""


class APIError(FeishuError):
    """The API answered with an error.

    Attributes: ``status`` (HTTP), ``code`` (err_code / code), ``msg``, ``log_id``,
    ``method``, ``path``, ``detail`` (the ``err`` object), ``hint`` (the docs' first
    advice for this code, when the docs list it; ``hints``: all of it), ``retry_after``
    (seconds the server asked to wait, when it said).
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
        hints: tuple[str, ...] = (),
    ) -> None:
        self.hints = hints or ((hint,) if hint else ())
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
    """The single status/code → exception mapping: the docs' kind of the code
    (specs/errors.yaml), else the HTTP status."""
    facts = error_facts(platform, code)
    if facts is not None and facts[1] in _BY_KIND:
        return _BY_KIND[facts[1]]
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def token_rejections(platform: str) -> frozenset[int]:
    """Codes meaning the token itself was rejected (specs/errors.yaml ``renews_token``)."""
    from aiofeishu import error_codes

    return error_codes.TOKEN_REJECTIONS[platform]


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
    hints = facts[3] if facts else ()
    cls = error_class(platform, status, code)
    return cls(
        status=status,
        code=code,
        msg=msg,
        log_id=log_id,
        method=method,
        path=path,
        detail=detail,
        hint=hints[0] if hints else None,
        hints=hints,
        retry_after=retry_after,
    )
