"""Typed views of values whose shape depends on a sibling, e.g. FieldValuePair.field_value."""

from __future__ import annotations

import importlib
from typing import Any

import msgspec

from aiofeishu._base import dec_hook

__all__ = ["typed_value"]


def typed_value(obj: Any) -> Any:
    """Decode ``obj``'s variable member by its discriminator.

    ``typed_value(pair)`` turns ``pair.field_value`` into the type its ``field_type_key``
    documents (``select`` → OptionValue, ``multi_user`` → list[str], …). Unknown field
    types, or a value that does not fit, come back unchanged so nothing is lost.
    """
    module = type(obj).__module__  # aiofeishu.<platform>.models
    variants = (
        importlib.import_module(module.rsplit(".", 1)[0] + ".variants").VARIANTS
        if module.startswith("aiofeishu.")
        else {}
    )
    entry = variants.get(type(obj))
    if entry is None:
        raise TypeError(f"{type(obj).__name__} has no variable members")
    member, discriminator, table = entry
    value = getattr(obj, member)
    target = table.get(getattr(obj, discriminator, None))
    if target is None or value is None or value is msgspec.UNSET:
        return value
    try:
        return msgspec.convert(value, target, dec_hook=dec_hook, strict=False)
    except msgspec.ValidationError:
        return value
