"""The three response envelopes, read the same way from typed results and error bodies.

Which envelope an endpoint answers in is a fact of its spec (``Endpoint.envelope``):

- ``project``: ``err_code`` / ``err_msg`` / ``err {code, msg, log_id}`` beside ``data``;
- ``authen``: ``error {code, msg}`` beside ``data`` (the Feishu Project token endpoints);
- ``open``: ``code`` / ``msg`` (Open Platform).

Members may be null or missing; a code that is not an integer is not guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["BadCode", "Probe", "probe", "read"]


class BadCode(Exception):
    """An error code that is not an integer (the client turns it into InvalidResponseError)."""


class Probe(msgspec.Struct):
    """An answer's envelope members only, whatever their types (for bodies that fail the model)."""

    err_code: Any = None
    err_msg: Any = None
    err: Any = None
    error: Any = None
    code: Any = None
    msg: Any = None


_probe_decoder = msgspec.json.Decoder(Probe)


def probe(body: bytes) -> Probe:
    """The envelope of ``body`` (raises msgspec errors when it is not a JSON object)."""
    return _probe_decoder.decode(body)


def _code(value: Any) -> int | None:
    if value is None or value == 0:
        return None if value is None else 0
    if isinstance(value, bool):
        raise BadCode(f"the error code is {value!r}, not an integer")
    if isinstance(value, int):
        return value
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise BadCode(f"the error code {str(value)[:40]!r} is not an integer")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)[:500]


def read(kind: str, envelope: Any, *, typed: bool = False) -> tuple[int | None, str, Any]:
    """(code, message, detail) of a typed result or a :class:`Probe`; code 0/None is success.
    Raises :class:`BadCode` for a code that is not an integer.

    On a body that decoded into its documented model (``typed``) only ``err_code`` counts:
    page 57's success example carries ``"err_code": null`` beside a stray ``err.code``.
    """
    if kind == "authen":
        error = getattr(envelope, "error", None)
        if isinstance(error, Mapping):
            return _code(error.get("code")), _text(error.get("msg")), error
        return None, "", error
    if kind == "open":
        return (
            _code(getattr(envelope, "code", None)),
            _text(getattr(envelope, "msg", None)),
            getattr(envelope, "error", None),
        )
    err = getattr(envelope, "err", None)
    inner = err if isinstance(err, Mapping) else {}
    code = _code(getattr(envelope, "err_code", None))
    if not code and not typed:
        code = _code(inner.get("code"))
    msg = _text(getattr(envelope, "err_msg", None)) or _text(inner.get("msg"))
    return code, msg, err
