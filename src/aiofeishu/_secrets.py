"""Keeping secrets out of reprs, logs, exception texts and captured tracebacks.

A :class:`Secret` holds a credential (plugin_secret, app_secret, a token) and shows
``'***'`` wherever Python turns it into text, so a traceback captured with its locals
(Sentry's ``capture_locals``) or an f-string in a log line cannot reveal it. The value is
read with :meth:`Secret.reveal` only where it goes onto the wire.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NoReturn

__all__ = ["MaskedHeaders", "Secret", "redact", "redact_value"]

MASK = "***"

# Header names whose values are credentials.
SECRET_HEADERS = frozenset({"x-plugin-token", "authorization", "proxy-authorization"})

_SECRET_KEY = re.compile(r"token|secret|password", re.IGNORECASE)

# JSON members whose values are credentials: token, plugin_secret, refresh_token,
# tenant_access_token, app_secret, … (the value may be cut short by an excerpt).
_SECRET_MEMBER = re.compile(
    r'("[A-Za-z_]*(?:token|secret|password)[A-Za-z_]*"\s*:\s*)"(?:[^"\\]|\\.)*("|$)',
    re.IGNORECASE,
)


class Secret:
    """A credential that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, got {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the wire only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        # Pickling would write the secret into a queue or a file in clear.
        raise TypeError("a Secret cannot be pickled")


class MaskedHeaders(dict[str, str]):
    """Request headers whose repr hides credentials (what aiohttp is given to send)."""

    def __repr__(self) -> str:
        shown = {k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in self.items()}
        return f"MaskedHeaders({shown!r})"

    __str__ = __repr__


def redact(text: str, secrets: Iterable[Any] = ()) -> str:
    """``text`` with token-like JSON members and the given secret values masked."""
    text = _SECRET_MEMBER.sub(lambda m: f'{m.group(1)}"{MASK}{m.group(2)}', text)
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, MASK)
    return text


def redact_value(value: Any, secrets: Iterable[Any] = ()) -> Any:
    """A decoded JSON value (an error's ``err`` object) with credentials masked: members
    named like a token or secret, and the given secret values inside any string."""
    secrets = tuple(secrets)
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) else redact_value(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v, secrets) for v in value]
    if isinstance(value, str):
        return redact(value, secrets)
    return value
