"""Exact decoding: a body whose open blocks are all of known shape decodes straight to structs.

An open block (``OpenObject``) keeps the wire dict so that nothing the vendor adds is lost,
and builds its typed view on first read. That costs a second pass: reading a rich-text record
through dicts and views took 1.2-1.3x ``json.loads`` plus the same reading, while a typed
decode straight into structs takes about half.

So a response holding open blocks is first decoded by an *exact* decoder: the same model
tree, with each open block replaced by its typed view made strict (an unknown member or block
kind, a null type, a value of the wrong type all fail it). When it succeeds nothing was
dropped, and the structs re-encode to the same members. When it fails, the body is decoded
again the lossless way. The exact classes are subclasses of the models they stand for,
compare equal to them, pickle as them, and an exact block passes ``isinstance`` checks for
its open class and offers the same reading surface (``.type``, ``.raw``, ``.is_known``,
the typed members). It is not a dict, though: it is a read-only ``Mapping`` of its wire
members (``block["type"]``), ``.raw`` is a new dict on each read, and it is a struct to
``msgspec`` and ``json.dumps`` (encode with msgspec, or ``to_builtins`` first).
"""

from __future__ import annotations

import threading
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

__all__ = ["exact_decoder"]


class _Unsupported(Exception):
    """The model tree cannot have an exact form (a recursive open block): decode losslessly."""


def exact_decoder(response_type: type[Any]) -> msgspec.json.Decoder[Any] | None:
    """A strict decoder of the exact form of ``response_type``; None when it holds no open block."""
    with _build_lock:  # one set of classes per process, whichever thread decodes first
        try:
            exact = _Builder().rewrite(response_type, inside_open=False)
        except _Unsupported:
            return None
    if exact is response_type:
        return None
    return msgspec.json.Decoder(exact, strict=True)


_build_lock = threading.Lock()
_forms: dict[tuple[Any, bool], Any] = {}  # (model, inside an open block) -> its exact form


class _Builder:
    """Rewrites a type annotation into its exact form (each class is built once per process)."""

    def __init__(self) -> None:
        self._building: set[tuple[Any, bool]] = set()

    def rewrite(self, tp: Any, *, inside_open: bool) -> Any:
        origin = get_origin(tp)
        if origin is Annotated:
            inner, *meta = get_args(tp)
            new = self.rewrite(inner, inside_open=inside_open)
            return tp if new is inner else Annotated[(new, *meta)]
        if origin in (Union, types.UnionType):
            args = get_args(tp)
            new_args = tuple(self.rewrite(arg, inside_open=inside_open) for arg in args)
            return tp if new_args == args else Union[new_args]  # noqa: UP007 (built at run time)
        if origin in (list, dict):
            args = get_args(tp)
            new_args = tuple(self.rewrite(arg, inside_open=inside_open) for arg in args)
            return tp if new_args == args else origin[new_args]
        if origin is not None:
            return tp
        if tp is float and inside_open:
            # A float member keeps a wire integer an integer (1920, not 1920.0): re-encoded,
            # the block is what was received. int is a float to type checkers (PEP 484).
            return int | float
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            return self._form(tp, inside_open=inside_open)
        if _is_open(tp):
            return self._form(tp, inside_open=True)
        return tp

    def _form(self, cls: type[Any], *, inside_open: bool) -> Any:
        key = (cls, inside_open)
        form = _forms.get(key)
        if form is not None:
            return form
        if key in self._building:
            raise _Unsupported(cls.__name__)
        self._building.add(key)
        try:
            form = self._open_form(cls) if _is_open(cls) else self._struct_form(cls, inside_open)
        finally:
            self._building.discard(key)
        _forms[key] = form
        return form

    def _struct_form(self, cls: type[Any], inside_open: bool) -> type[Any]:
        changed = self._changed_fields(cls, inside_open)
        if not changed and not inside_open:
            return cls  # nothing open below: the model itself
        return _subclass(cls, changed, {}, strict=inside_open)

    def _open_form(self, open_cls: type[Any]) -> type[Any]:
        view = open_cls.fields_type()
        changed = self._changed_fields(view, inside_open=True)
        # The tag must be a string: a block without one is left to the lossless path.
        changed = [f for f in changed if f[0] != "type"] + [("type", str, msgspec.field())]
        members = _block_members(open_cls)
        form = _subclass(view, changed, members, strict=True, name=open_cls.__name__)
        form._by_wire_name = {f.encode_name: f.name for f in msgspec.structs.fields(form)}
        Mapping.register(form)  # read-only mapping of the wire members, as .raw
        return form

    def _changed_fields(self, cls: type[Any], inside_open: bool) -> list[tuple[str, Any, Any]]:
        changed = []
        for info in msgspec.structs.fields(cls):
            new = self.rewrite(info.type, inside_open=inside_open)
            if new is not info.type:
                default = (
                    msgspec.field(name=info.encode_name, default_factory=info.default_factory)
                    if info.default is msgspec.NODEFAULT
                    and info.default_factory is not msgspec.NODEFAULT
                    else msgspec.field(name=info.encode_name, default=info.default)
                )
                changed.append((info.name, new, default))
        return changed


def _is_open(tp: Any) -> bool:
    from aiofeishu._base import OpenObject  # _base makes decoders through this module

    return isinstance(tp, type) and issubclass(tp, OpenObject)


def _subclass(
    base: type[Any],
    fields: list[tuple[str, Any, Any]],
    members: dict[str, Any],
    *,
    strict: bool,
    name: str | None = None,
) -> type[Any]:
    namespace = {**_model_members(base), **members}
    # Outside open blocks the model's own leniency is inherited (unknown members ignored).
    strictness: dict[str, Any] = {"forbid_unknown_fields": True} if strict else {}
    return msgspec.defstruct(
        name or base.__name__,
        fields,
        bases=(base,),
        module=base.__module__,
        namespace=namespace,
        kw_only=True,
        **strictness,
    )


def _model_members(base: type[Any]) -> dict[str, Any]:
    """An exact class is its model to everyone: equal to it, pickled and copied as it."""

    def __eq__(self: Any, other: object) -> bool:
        if not isinstance(other, base):
            return NotImplemented
        fields = base.__struct_fields__
        return all(getattr(self, f) == getattr(other, f) for f in fields)

    def __reduce__(self: Any) -> Any:
        rebuild, (_, state) = typing.cast(tuple[Any, tuple[Any, Any]], self.__struct_reduce__())
        return rebuild, (base, state)

    return {
        "__eq__": __eq__,
        "__ne__": _negation(__eq__),
        "__reduce__": __reduce__,
        "__struct_reduce__": msgspec.Struct.__reduce__,
        "__hash__": None,
    }


def _negation(eq: Any) -> Any:
    """``__ne__`` from ``__eq__`` (msgspec's own would compare types, then identity)."""

    def __ne__(self: Any, other: object) -> Any:
        equal = eq(self, other)
        return equal if equal is NotImplemented else not equal

    return __ne__


def _block_members(open_cls: type[Any]) -> dict[str, Any]:
    """What an open block offers besides its typed members (see OpenObject)."""

    def raw(self: Any) -> dict[str, Any]:
        """The block as received (as a plain dict: wire names, unset members absent)."""
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    def is_known(self: Any) -> bool:
        """False when the vendor sent a block type this SDK version does not know."""
        return self.type in open_cls.known_types

    def __eq__(self: Any, other: object) -> bool:
        if isinstance(other, dict):
            return bool(self.raw == other)
        if getattr(type(other), "_stands_for", None) is not None:
            return bool(self.raw == getattr(other, "raw", None))
        return NotImplemented

    def __repr__(self: Any) -> str:
        return f"{open_cls.__name__}(type={self.type!r}, known={self.is_known})"

    def __reduce__(self: Any) -> Any:
        return open_cls, (self.raw,)  # unpickles as the open block itself

    def __getitem__(self: Any, key: str) -> Any:
        name = type(self).__dict__["_by_wire_name"].get(key)
        value = msgspec.UNSET if name is None else getattr(self, name)
        if value is msgspec.UNSET:
            raise KeyError(key)
        return msgspec.to_builtins(value)

    def get(self: Any, key: str, default: Any = None) -> Any:
        try:
            return __getitem__(self, key)
        except KeyError:
            return default

    def keys(self: Any) -> typing.KeysView[str]:
        return self.raw.keys()  # type: ignore[no-any-return]

    def values(self: Any) -> typing.ValuesView[Any]:
        return self.raw.values()  # type: ignore[no-any-return]

    def items(self: Any) -> typing.ItemsView[str, Any]:
        return self.raw.items()  # type: ignore[no-any-return]

    def __iter__(self: Any) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self: Any) -> int:
        return len(self.raw)

    def __contains__(self: Any, key: object) -> bool:
        return key in self.raw

    return {
        "_stands_for": open_cls,
        "known_types": open_cls.known_types,
        "raw": property(raw),
        "is_known": property(is_known),
        "__eq__": __eq__,
        "__ne__": _negation(__eq__),
        "__repr__": __repr__,
        "__reduce__": __reduce__,
        "__getitem__": __getitem__,
        "__reversed__": lambda self: reversed(self.raw),
        "get": get,
        "keys": keys,
        "values": values,
        "items": items,
        "__iter__": __iter__,
        "__len__": __len__,
        "__contains__": __contains__,
    }
