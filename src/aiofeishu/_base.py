"""Base classes of the generated models, and the lossless wrapper for open block types."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import msgspec

__all__ = [
    "AuthenResponse",
    "Model",
    "OpenObject",
    "OpenResponse",
    "ProjectResponse",
    "RequestModel",
    "ResponseModel",
    "dec_hook",
    "enc_hook",
]


class Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every generated Struct: keyword-only, omits unset members when encoded."""


class RequestModel(Model, kw_only=True, forbid_unknown_fields=True):
    """Request side: strict, an unknown key is an error (a typo never goes unnoticed)."""


class ResponseModel(Model, kw_only=True):
    """Response side: unknown members are accepted, so new vendor fields never break a decode."""


class _Envelope(ResponseModel, kw_only=True, dict=True):
    # dict=True lets the client keep the raw body on the instance (see raw_json()).

    def raw_json(self) -> Any:
        """The whole response body as received, including members this SDK does not know yet."""
        raw = self.__dict__.get("_raw")
        return None if raw is None else msgspec.json.decode(raw)


class ProjectResponse(_Envelope, kw_only=True):
    """Feishu Project envelope: ``err_code`` / ``err_msg`` / ``err`` beside ``data``."""

    err_code: int = 0
    err_msg: str | None = None
    err: dict[str, Any] | None = None


class AuthenResponse(_Envelope, kw_only=True):
    """Envelope of the authen endpoints: ``error: {code, msg}`` beside ``data``."""

    error: dict[str, Any] | None = None


class OpenResponse(_Envelope, kw_only=True):
    """Open Platform envelope: ``code`` / ``msg`` beside ``data``."""

    code: int = 0
    msg: str | None = None


class OpenObject:
    """A block whose ``type`` the vendor may extend: kept whole, typed on access.

    Generated subclasses (``<platform>.blocks``) add one property per known member.
    Unknown block types decode without error and re-encode unchanged.
    """

    __slots__ = ("_cache", "raw")
    _module: ClassVar[str]
    _fields_name: ClassVar[str]
    _fields_type: ClassVar[type[Any] | None] = None
    known_types: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, raw: dict[str, Any]) -> None:
        if not isinstance(raw, dict):
            raise TypeError(
                f"expected an object for {type(self).__name__}, got {type(raw).__name__}"
            )
        self.raw = raw
        self._cache: Any = None

    @property
    def type(self) -> str | None:
        value = self.raw.get("type")
        return value if isinstance(value, str) else None

    @property
    def is_known(self) -> bool:
        """False when the vendor sent a block type this SDK version does not know."""
        return self.type in self.known_types

    def _fields(self) -> Any:
        if self._cache is None:
            cls = type(self)
            fields_type = cls._fields_type
            if fields_type is None:  # resolved once per class: import_module costs per block
                fields_type = getattr(importlib.import_module(cls._module), cls._fields_name)
                cls._fields_type = fields_type
            self._cache = msgspec.convert(self.raw, fields_type, dec_hook=dec_hook)
        return self._cache

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.raw == self.raw  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # equal by content, which is a mutable dict

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r}, known={self.is_known})"


def dec_hook(tp: type, obj: Any) -> Any:
    """msgspec decode hook: builds OpenObject wrappers from the raw wire dict."""
    if isinstance(tp, type) and issubclass(tp, OpenObject):
        return tp(obj)
    raise NotImplementedError(f"cannot decode {tp!r}")


def enc_hook(obj: Any) -> Any:
    """msgspec encode hook: OpenObject wrappers encode back to what was received."""
    if isinstance(obj, OpenObject):
        return obj.raw
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")
