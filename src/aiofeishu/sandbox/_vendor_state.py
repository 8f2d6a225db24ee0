"""Sandbox state for endpoints only the vendor SDKs know: flow roles, story relations, file
comments and the universal search's search_after pages.

Registered into the same handler table as ``_state.py``; the other vendor-SDK endpoints answer
with the example built from the SDK's types (specs/vendor-sdk/examples).
"""

from __future__ import annotations

import copy
from typing import Any

from aiofeishu.project.doc_responses import RESPONSES
from aiofeishu.sandbox._state import (
    ApiFailure,
    Call,
    State,
    _public,
    add_comment,
    comment_page,
    handles,
)

# -- flow roles: create / update / delete, seen by config.list_roles ----------------------


def _roles(state: State, call: Call) -> list[dict[str, Any]]:
    """The roles of one work item type, first seeded with the doc page's example roles."""
    key = (call.get("project_key"), call.get("work_item_type_key"))
    if key not in state.flow_roles:
        state.flow_roles[key] = copy.deepcopy(RESPONSES["config.list_roles"]["data"])
    return state.flow_roles[key]


def _role(state: State, call: Call) -> dict[str, Any]:
    role_id, alias = call.get("role_id"), call.get("role_alias")
    if not role_id and not alias:
        raise ApiFailure(20005, "Missing Param: role_id or role_alias")
    for role in _roles(state, call):
        if (role_id and role.get("id") == role_id) or (alias and role.get("role_alias") == alias):
            return role
    raise ApiFailure(30015, f"Record Not Found: flow role {role_id or alias}", status=404)


@handles("config.list_roles")
def list_roles(state: State, call: Call) -> Any:
    return _roles(state, call)


@handles("config.create_role")
def create_role(state: State, call: Call) -> Any:
    fields = dict(call.get("role"))
    roles = _roles(state, call)
    fields.setdefault("id", f"role_{state.new_id()}")
    if any(r.get("id") == fields["id"] for r in roles):
        raise ApiFailure(20006, f"Invalid Param: flow role {fields['id']} already exists")
    roles.append(fields)
    return fields["id"]


@handles("config.update_role")
def update_role(state: State, call: Call) -> Any:
    _role(state, call).update(call.get("role"))
    return None


@handles("config.delete_role")
def delete_role(state: State, call: Call) -> Any:
    role = _role(state, call)
    _roles(state, call).remove(role)
    return None


# -- story relations ------------------------------------------------------------------------


@handles("story_relations.create")
def create_story_relations(state: State, call: Call) -> Any:
    created: dict[str, int] = {}
    for relation in call.get("story_relations"):
        local, remote = relation.get("local_work_item_id"), relation.get("remote_work_item_id")
        if local is None or remote is None:
            raise ApiFailure(20005, "Missing Param: local_work_item_id and remote_work_item_id")
        for wid in (local, remote):
            state.work_item(call, wid)
        state.story_relations.setdefault(local, set()).add(remote)
        state.story_relations.setdefault(remote, set()).add(local)
        key = relation.get("relation_id") or ""
        created[key] = created.get(key, 0) + 1
    return created  # relation_id → relations created with it


@handles("story_relations.query")
def query_story_relations(state: State, call: Call) -> Any:
    ids = call.get("work_item_ids")
    for wid in ids:
        state.work_item(call, wid)
    linked = {wid: sorted(state.story_relations.get(wid, ())) for wid in ids}
    every = {wid for wid in ids} | {other for others in linked.values() for other in others}
    return {
        "value": {str(wid): others for wid, others in linked.items()},
        "work_item_project_map": {str(wid): state.work_items[wid]["project_key"] for wid in every},
    }


# -- file comments --------------------------------------------------------------------------


@handles("comments.create_file_comment")
def create_file_comment(state: State, call: Call) -> Any:
    token = call.get("file_token")
    name, content = state.files.get(token, (token, b""))
    comment_file = {"file_token": token, "file_name": name, "file_size": len(content)}
    return add_comment(state, call, state.file_comments, comment_file=comment_file)


@handles("comments.list_file_comments")
def list_file_comments(state: State, call: Call) -> Any:
    return comment_page(state, call, state.file_comments)


# -- universal search: work items in search_after pages ------------------------------------


@handles("search.universal")
def universal_search(state: State, call: Call) -> Any:
    pagination = call.get("pagination") or {}
    size = pagination.get("page_size") or 50
    cursor = pagination.get("search_after") or "0"
    if not cursor.isdigit():  # only cursors this sandbox handed out are valid
        raise ApiFailure(20006, f"Invalid Param: search_after {cursor!r}")
    after = int(cursor)
    matches = sorted(
        (
            item
            for item in state.work_items.values()
            if item["project_key"] == call.get("project_key", item["project_key"])
            and item["work_item_type_key"]
            == call.get("work_item_type_key", item["work_item_type_key"])
        ),
        key=lambda item: int(item["id"]),
    )
    rest = [item for item in matches if item["id"] > after]
    page = rest[:size]
    more = len(rest) > size
    return "", {
        "datas": [_public(item) for item in page],
        "pagination": {
            "page_size": size,
            "search_after": str(page[-1]["id"]) if more else "",
            "pit": pagination.get("pit") or f"pit-{state.new_id()}",
            "total": len(matches),
        },
    }
