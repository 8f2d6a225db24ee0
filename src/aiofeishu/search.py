"""Build SearchGroup filter conditions without hand-writing the nested dicts.

A condition is a ``SearchParam`` (one row of the filter UI: field, operator, value); a
group combines rows and nested groups with AND or OR. The format is the docs' page 08
(搜索参数格式及常用示例) and page 10 (全局搜索参数格式及常用示例); the same SearchGroup is
used by views (page 61)::

    from aiofeishu.search import Field, and_, or_, BUSINESS, ROLE_OWNERS

    # page 08: (business = xxx AND role pm = xxx) AND (priority HAS NONE OF P2)
    group = and_(
        BUSINESS.eq(["xxx"]),
        ROLE_OWNERS.eq([{"role": "pm", "owners": ["xxx"]}]),
        or_(Field("priority").has_none_of(["2"])),
    )

    # page 08: started between two dates OR updated between two dates
    group = or_(
        and_(*Field("start_time").between(1696089600000, 1698767999000)),
        and_(*Field("updated_at").between(1696089600000, 1698767999000)),
    )

    await client.work_items.search_by_params(..., search_group=group)

The fixed parameters (``CURRENT_NODES`` … ``ROLE_OWNERS``) check their operator and the
shape of their value against the specs, so a mistake fails here, naming the parameter,
instead of coming back from the server as 20063 / 20006.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import msgspec

from aiofeishu.project.requests import SearchGroup, SearchParam
from aiofeishu.project.variants import SEARCH_PARAM_OPERATOR_BY_PARAM_KEY, SEARCH_PARAM_VALUE

__all__ = [
    "ALL_STATES",
    "BUSINESS",
    "CREATED_AT",
    "CURRENT_NODES",
    "FEATURE_STATE_TIME",
    "NODE_OWNERS",
    "PEOPLE",
    "ROLE_OWNERS",
    "TEMPLATE_ID",
    "WORK_ITEM_ID",
    "WORK_ITEM_STATUS",
    "Conjunction",
    "Field",
    "Op",
    "PreOp",
    "SearchGroup",
    "SearchParam",
    "and_",
    "group",
    "or_",
]


class Op(enum.StrEnum):
    """The operators of page 08; each parameter accepts only some of them."""

    MATCHES = "~"
    NOT_MATCHES = "!~"
    EQ = "="
    NE = "!="
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="
    HAS_ANY_OF = "HAS ANY OF"
    HAS_NONE_OF = "HAS NONE OF"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"
    CONTAINS = "CONTAINS"
    NOT_CONTAINS = "NOT CONTAINS"
    MEET = "MEET"
    NOT_MEET = "NOT MEET"


class PreOp(enum.StrEnum):
    """Compound fields: whether every group (EVERY) or at least one (ANY) must match."""

    EVERY = "EVERY"
    ANY = "ANY"


class Conjunction(enum.StrEnum):
    AND = "AND"
    OR = "OR"


_NO_VALUE = (Op.IS_NULL, Op.IS_NOT_NULL)
_NOT_GIVEN: Any = object()

Condition = SearchParam | SearchGroup | Iterable[SearchParam]


class Field:
    """One filter parameter: a field key (``priority``, ``updated_at``, a custom
    ``field_xxxx``) or a fixed parameter key. Its methods make a ``SearchParam``.

    ``pre_operator`` is for a compound field's child used directly as the parameter
    (page 08: 复合字段子字段): ``Field("field_4396f8", pre_operator="EVERY").eq("1")``.
    """

    __slots__ = ("key", "pre_operator")

    def __init__(self, key: str, *, pre_operator: PreOp | str | None = None) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("a search parameter needs a non-empty param_key")
        self.key = key
        self.pre_operator = PreOp(pre_operator) if pre_operator is not None else None

    def __repr__(self) -> str:
        return f"Field({self.key!r})"

    def where(self, operator: Op | str, value: Any = _NOT_GIVEN) -> SearchParam:
        """The condition ``key operator value``; every shortcut below ends here."""
        try:
            op = Op(operator)
        except ValueError:
            raise ValueError(
                f"{operator!r} is not a search operator; use one of {[o.value for o in Op]}"
            ) from None
        allowed = SEARCH_PARAM_OPERATOR_BY_PARAM_KEY.get(self.key)
        if allowed is not None and op.value not in allowed:
            raise ValueError(
                f"{self.key} does not support {op.value!r} (page 08, error 20063); "
                f"it supports {sorted(allowed)}"
            )
        if op in _NO_VALUE:
            if value is not _NOT_GIVEN:
                raise ValueError(f"{op.value} takes no value ({self.key})")
            return self._param(op)
        if value is _NOT_GIVEN:
            raise ValueError(f"{self.key} {op.value} needs a value")
        self._check_value(value)
        return self._param(op, value=value)

    def _check_value(self, value: Any) -> None:
        shape = SEARCH_PARAM_VALUE.get(self.key)
        if shape is None:
            return  # an ordinary field: its value type depends on the field's type
        try:
            msgspec.convert(_plain(value), shape, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"bad value for {self.key}: {exc}") from None

    def _param(self, op: Op, **extra: Any) -> SearchParam:
        if self.pre_operator is not None:
            extra["pre_operator"] = self.pre_operator.value
        return SearchParam(param_key=self.key, operator=op.value, **extra)

    def eq(self, value: Any) -> SearchParam:
        return self.where(Op.EQ, value)

    def ne(self, value: Any) -> SearchParam:
        return self.where(Op.NE, value)

    def lt(self, value: Any) -> SearchParam:
        return self.where(Op.LT, value)

    def gt(self, value: Any) -> SearchParam:
        return self.where(Op.GT, value)

    def le(self, value: Any) -> SearchParam:
        return self.where(Op.LE, value)

    def ge(self, value: Any) -> SearchParam:
        return self.where(Op.GE, value)

    def matches(self, text: str) -> SearchParam:
        """``~``: text contains (fuzzy on both sides)."""
        return self.where(Op.MATCHES, text)

    def not_matches(self, text: str) -> SearchParam:
        return self.where(Op.NOT_MATCHES, text)

    def has_any_of(self, values: list[Any]) -> SearchParam:
        return self.where(Op.HAS_ANY_OF, values)

    def has_none_of(self, values: list[Any]) -> SearchParam:
        return self.where(Op.HAS_NONE_OF, values)

    def contains(self, values: list[Any]) -> SearchParam:
        return self.where(Op.CONTAINS, values)

    def not_contains(self, values: list[Any]) -> SearchParam:
        return self.where(Op.NOT_CONTAINS, values)

    def is_null(self) -> SearchParam:
        return self.where(Op.IS_NULL)

    def is_not_null(self) -> SearchParam:
        return self.where(Op.IS_NOT_NULL)

    def between(self, low: Any, high: Any) -> tuple[SearchParam, SearchParam]:
        """``low <= key <= high`` as the two conditions the docs ask for (区间需传两个条件);
        pass them to ``and_``, which flattens them into its rows."""
        return self.ge(low), self.le(high)

    def meet(
        self, children: SearchGroup, *, pre_operator: PreOp | str = PreOp.EVERY
    ) -> SearchParam:
        """A compound field whose groups (``EVERY`` or ``ANY``) satisfy ``children``,
        a group of conditions on its child fields."""
        return self._compound(Op.MEET, children, pre_operator)

    def not_meet(
        self, children: SearchGroup, *, pre_operator: PreOp | str = PreOp.EVERY
    ) -> SearchParam:
        return self._compound(Op.NOT_MEET, children, pre_operator)

    def _compound(self, op: Op, children: SearchGroup, pre: PreOp | str) -> SearchParam:
        if not isinstance(children, SearchGroup):
            raise TypeError(f"{op.value} needs a SearchGroup of child conditions (use and_/or_)")
        for child in _params(children):
            if child.pre_operator is not msgspec.UNSET:
                raise ValueError(
                    f"{child.param_key}: conditions inside {op.value} take no pre_operator (page 08)"
                )
        return SearchParam(
            param_key=self.key,
            operator=op.value,
            pre_operator=PreOp(pre).value,
            value_search_groups=children,
        )


def group(conjunction: Conjunction | str, *conditions: Condition) -> SearchGroup:
    """Combine conditions with ``conjunction``: parameters become the group's rows, groups
    nest, and iterables of parameters (such as ``Field.between``) are flattened."""
    conj = Conjunction(conjunction)
    params: list[SearchParam] = []
    groups: list[SearchGroup] = []
    for cond in conditions:
        if isinstance(cond, SearchParam):
            params.append(cond)
        elif isinstance(cond, SearchGroup):
            groups.append(cond)
        elif isinstance(cond, Iterable) and not isinstance(cond, (str, bytes, dict)):
            for item in cond:
                if not isinstance(item, SearchParam):
                    raise TypeError(f"expected SearchParam, got {type(item).__name__}")
                params.append(item)
        else:
            raise TypeError(
                f"a condition is a SearchParam, a SearchGroup or an iterable of SearchParam, "
                f"not {type(cond).__name__}"
            )
    if not params and not groups:
        raise ValueError(f"an {conj.value} group needs at least one condition")
    return SearchGroup(
        conjunction=conj.value,
        search_params=params or msgspec.UNSET,
        search_groups=groups or msgspec.UNSET,
    )


def and_(*conditions: Condition) -> SearchGroup:
    """All of ``conditions`` (筛选器的「且」)."""
    return group(Conjunction.AND, *conditions)


def or_(*conditions: Condition) -> SearchGroup:
    """Any of ``conditions`` (筛选器的「或」)."""
    return group(Conjunction.OR, *conditions)


def _params(g: SearchGroup) -> Iterable[SearchParam]:
    yield from g.search_params or ()
    for sub in g.search_groups or ():
        yield from _params(sub)


def _plain(value: Any) -> Any:
    # Structs (e.g. requests.RoleOwner) check like the dicts they encode to.
    return msgspec.to_builtins(value) if isinstance(value, (msgspec.Struct, list)) else value


# The fixed parameters of page 08 (固定参数及取值); tests check these against the specs.
CURRENT_NODES = Field("current_nodes")
"""进行中节点: list of node names."""
ALL_STATES = Field("all_states")
"""流程节点: list of node names."""
FEATURE_STATE_TIME = Field("feature_state_time")
"""流程节点时间: a SearchStateTime {state_name, state_timestamp, state_condition}."""
PEOPLE = Field("people")
"""全部人员: list of user_keys (not for 缺陷, error 20071)."""
CREATED_AT = Field("created_at")
"""创建时间: a millisecond timestamp."""
NODE_OWNERS = Field("node_owners")
"""节点负责人: list of {state_name, owners}; several entries are ANDed."""
WORK_ITEM_ID = Field("work_item_id")
"""工作项 ID: list of ids."""
WORK_ITEM_STATUS = Field("work_item_status")
"""工作项状态: list of state keys (pass "closed" to include aborted items)."""
TEMPLATE_ID = Field("template_id")
"""模板 ID: list of template ids."""
BUSINESS = Field("business")
"""业务线: list of business line ids."""
ROLE_OWNERS = Field("role_owners")
"""角色人员: list of {role, owners}; several roles are ANDed."""
