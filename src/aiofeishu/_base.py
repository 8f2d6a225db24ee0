"""Base classes of the generated models, and the lossless wrapper for open block types."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Protocol

import msgspec

from aiofeishu._secrets import Secret
from aiofeishu.errors import InvalidResponseError

__all__ = [
    "AuthenResponse",
    "Model",
    "OpenObject",
    "OpenResponse",
    "ProjectResponse",
    "RequestModel",
    "ResponseDecoder",
    "ResponseModel",
    "dec_hook",
    "enc_hook",
    "response_decoder",
]


class Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every generated Struct: keyword-only, omits unset members when encoded."""


class RequestModel(Model, kw_only=True, forbid_unknown_fields=True):
    """Request side: strict, an unknown key is an error (a typo never goes unnoticed)."""


class _Lenient(Model, kw_only=True):
    """Response side: unknown members are accepted, so new vendor fields never break a decode."""


class ResponseModel(_Lenient, kw_only=True, gc=False):
    """A response member. Not tracked by the garbage collector: decoded data forms no cycles,
    and tracking every struct made collections a tenth of reading a rich-text record."""


class _Envelope(_Lenient, kw_only=True, dict=True):
    # dict=True lets the client keep the raw body and the log id on the instance.

    def raw_json(self) -> Any:
        """The whole response body as received, including members this SDK does not know yet."""
        raw = self.__dict__.get("_raw")
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, msgspec.DecodeError) else "nested too deeply"
        raise InvalidResponseError(
            f"the raw body cannot be read as plain JSON ({message}); the typed result is complete",
            status=200,
            excerpt="",
            method="raw_json",
            path=type(self).__name__,
        )

    @property
    def log_id(self) -> str | None:
        """The call's X-Tt-Logid (quote it to the vendor's support)."""
        return self.__dict__.get("_log_id")


# Envelope members may be null on the wire (page 57's own example has "err_code": null).


class ProjectResponse(_Envelope, kw_only=True):
    """Feishu Project envelope: ``err_code`` / ``err_msg`` / ``err`` beside ``data``."""

    err_code: int | None = 0
    err_msg: str | None = None
    err: dict[str, Any] | None = None


class AuthenResponse(_Envelope, kw_only=True):
    """Envelope of the authen endpoints: ``error: {code, msg}`` beside ``data``."""

    error: dict[str, Any] | None = None


class OpenResponse(_Envelope, kw_only=True):
    """Open Platform envelope: ``code`` / ``msg`` beside ``data``."""

    code: int | None = 0
    msg: str | None = None


_open_types: set[type[Any]] = set()  # every OpenObject subclass (registered as defined)


class _OpenObjectType(type):
    def __instancecheck__(cls, obj: object) -> bool:
        # A block of known shape may arrive as its exact struct (see _exact): it stands for
        # its open class in isinstance checks, as it does in type annotations.
        if type.__instancecheck__(cls, obj):
            return True
        return cls.__subclasscheck__(type(obj))

    def __subclasscheck__(cls, subclass: type) -> bool:
        if type.__subclasscheck__(cls, subclass):
            return True
        stands_for = getattr(subclass, "_stands_for", None)
        return stands_for is not None and type.__subclasscheck__(cls, stands_for)


class OpenObject(dict[str, Any], metaclass=_OpenObjectType):
    """A block whose ``type`` the vendor may extend: the wire dict itself, typed on access.

    Generated subclasses (``<platform>.blocks``) add one property per known member.
    Unknown block types decode without error; being a dict, a block encodes back
    unchanged with plain msgspec (``msgspec.json.encode``, ``to_builtins``) and pickles.
    A record whose blocks are all of known shape decodes to their exact structs instead
    (``_exact``), which read, encode and pickle the same way.
    """

    # No __init__ and no __slots__: a block is built by dict's own constructor (msgspec makes
    # one per block and element, so Python-level construction was the decode's main cost);
    # the typed view, once read, lives in the instance's own __dict__ (None until then).
    _cache: Any = None
    _module: ClassVar[str]
    _fields_name: ClassVar[str]
    _fields_type: ClassVar[type[Any] | None] = None
    _fields_hook: ClassVar[Any] = None  # dec_hook, when the typed view holds open objects
    known_types: ClassVar[frozenset[str]] = frozenset()

    @property
    def raw(self) -> dict[str, Any]:
        """The block as received (the object itself)."""
        return self

    @property
    def type(self) -> str | None:
        value = self.get("type")
        return value if isinstance(value, str) else None

    @property
    def is_known(self) -> bool:
        """False when the vendor sent a block type this SDK version does not know."""
        return self.type in self.known_types

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _open_types.add(cls)

    def _fields(self) -> Any:
        """The typed view, made on first read (generated properties inline the cached case)."""
        return self._cache or self._view()

    @classmethod
    def fields_type(cls) -> Any:
        """The struct type of this block's typed view."""
        fields_type = cls._fields_type
        if fields_type is None:  # resolved once per class: import_module costs per block
            fields_type = getattr(importlib.import_module(cls._module), cls._fields_name)
            # No hook where none is needed: convert's keyword arguments alone cost a third
            # of an element's conversion (measured; dec_hook=None costs the same).
            if _holds_custom(msgspec.inspect.type_info(fields_type)):
                cls._fields_hook = dec_hook
            cls._fields_type = fields_type
        return fields_type

    def _view(self) -> Any:
        cls = type(self)
        fields_type = cls._fields_type or cls.fields_type()
        try:
            hook = cls._fields_hook
            if hook is None:
                self._cache = msgspec.convert(self, fields_type)
            else:
                self._cache = msgspec.convert(self, fields_type, dec_hook=hook)
        except msgspec.ValidationError as exc:
            message = str(exc)
        else:
            return self._cache
        raise InvalidResponseError(
            f"a {self.type!r} block does not match its documented shape: {message}",
            status=200,
            excerpt="",
            method="read",
            path=cls.__name__,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r}, known={self.is_known})"

    def __reduce__(self) -> Any:
        return (type(self), (dict(self),))


def _holds_custom(info: Any, seen: set[int] | None = None) -> bool:
    """Whether a ``msgspec.inspect`` type tree holds a custom type (an open object)."""
    seen = set() if seen is None else seen
    if id(info) in seen:
        return False
    seen.add(id(info))
    if isinstance(info, msgspec.inspect.CustomType):
        return True
    if isinstance(info, msgspec.inspect.Field):
        return _holds_custom(info.type, seen)
    if isinstance(info, tuple):
        return any(_holds_custom(item, seen) for item in info)
    if isinstance(info, msgspec.inspect.Type):
        return any(_holds_custom(getattr(info, name), seen) for name in info.__struct_fields__)
    return False


_decoders: dict[type[Any], Any] = {}


class ResponseDecoder(Protocol):
    """What the client needs of a decoder: bytes in, a response model out."""

    def decode(self, buf: bytes, /) -> Any: ...


def response_decoder(response_type: type[Any]) -> ResponseDecoder:
    """The decoder of a response model (made once per type, shared by all clients).

    Lenient: unknown members are ignored, numbers in strings accepted, open blocks kept
    whole. A model holding open blocks tries its exact form first (see ``_exact``).
    """
    decoder = _decoders.get(response_type)
    if decoder is None:
        from aiofeishu._exact import exact_decoder  # _exact reads OpenObject from here

        lenient = msgspec.json.Decoder(response_type, dec_hook=dec_hook, strict=False)
        exact = exact_decoder(response_type)
        decoder = lenient if exact is None else _ExactFirst(exact, lenient)
        _decoders[response_type] = decoder
    return decoder  # type: ignore[no-any-return]  # a Decoder or an _ExactFirst


class _ExactFirst:
    """Decodes with the exact form; a body it rejects is decoded again the lossless way."""

    __slots__ = ("_exact", "_lenient")

    def __init__(self, exact: msgspec.json.Decoder[Any], lenient: msgspec.json.Decoder[Any]):
        self._exact = exact
        self._lenient = lenient

    def decode(self, body: bytes) -> Any:
        try:
            return self._exact.decode(body)
        except msgspec.ValidationError:
            pass  # not chained: the lenient decode's own error (if any) says what is wrong
        return self._lenient.decode(body)


def dec_hook(tp: type, obj: Any) -> Any:
    """msgspec decode hook: builds OpenObject wrappers from the raw wire dict."""
    if type(obj) is dict and tp in _open_types:  # once per block and element: kept short
        return tp(obj)
    if isinstance(tp, type) and issubclass(tp, OpenObject):
        raise TypeError(f"expected an object for {tp.__name__}, got {type(obj).__name__}")
    raise NotImplementedError(f"cannot decode {tp!r}")


def enc_hook(obj: Any) -> Any:
    """msgspec encode hook for request arguments: a Secret goes out as its value."""
    if isinstance(obj, Secret):
        return obj.reveal()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")
