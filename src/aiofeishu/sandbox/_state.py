"""The sandbox's memory, and the endpoints that read and change it.

Work items (with a three-node workflow, subtasks, comments and attachments), views, OKR
progress records and tasks. Each handler gets the validated arguments of one call and
returns ``data`` (or ``(data, extra envelope members)``), or raises ``ApiFailure`` with the
code the docs give for that situation.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from aiofeishu._endpoint import Endpoint

if TYPE_CHECKING:
    from aiofeishu.sandbox._config import SandboxConfig

# Every work item runs through the same node workflow: (node id, name).
NODES = (("started", "开始"), ("doing", "进行中"), ("done", "已完成"))
NOT_ARRIVED, IN_PROGRESS, PASSED = 1, 2, 3


class ApiFailure(Exception):
    """An answer with an error code; the status and message default to the docs' own."""

    def __init__(self, code: int, msg: str | None = None, *, status: int | None = None) -> None:
        super().__init__(code, msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Call:
    endpoint: Endpoint
    args: dict[str, Any]
    files: dict[str, tuple[str, bytes]]
    user_key: str | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)


Handler = Callable[["State", Call], Any]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class State:
    config: SandboxConfig
    work_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    # endpoints only the vendor SDKs know (handlers in _vendor_state.py)
    flow_roles: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    story_relations: dict[int, set[int]] = field(default_factory=dict)
    file_comments: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Seeded, so the same script gets the same ids run after run.
        self._ids = itertools.count(6_000_000_000 + self.config.seed * 10_000_000)

    def new_id(self) -> int:
        return next(self._ids)

    def work_item(self, call: Call, work_item_id: int | None = None) -> dict[str, Any]:
        wid = work_item_id if work_item_id is not None else call.get("work_item_id")
        item = self.work_items.get(wid)  # type: ignore[arg-type]
        if item is None or item["project_key"] != call.get("project_key", item["project_key"]):
            raise ApiFailure(30005, status=404)
        expected = call.get("work_item_type_key")
        if expected is not None and expected != item["work_item_type_key"]:
            raise ApiFailure(20010)
        return item

    def writable(self, call: Call) -> dict[str, Any]:
        item = self.work_item(call)
        if item["_aborted"]:
            raise ApiFailure(20007)
        if item["_frozen"]:
            raise ApiFailure(10002, "Illegal Operation: the work item is frozen")
        return item


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _page(call: Call, items: list[Any], default_size: int) -> tuple[list[Any], dict[str, Any]]:
    size = call.get("page_size") or default_size
    num = call.get("page_num") or 1
    start = (num - 1) * size
    return items[start : start + size], {"page_num": num, "page_size": size, "total": len(items)}


def _field(item: dict[str, Any], key: str) -> Any:
    for pair in item["fields"]:
        if pair.get("field_key") == key:
            return pair.get("field_value")
    return None


def _touch(item: dict[str, Any], call: Call) -> None:
    """Every change to a work item moves its updated_at: incremental syncs filter on it."""
    item["updated_at"] = max(now_ms(), item["updated_at"])
    item["updated_by"] = call.user_key or item["updated_by"]


def _set_fields(item: dict[str, Any], pairs: list[dict[str, Any]]) -> None:
    for pair in pairs:
        key = pair.get("field_key") or pair.get("field_alias")
        if key == "name":
            item["name"] = pair.get("field_value")
            continue
        item["fields"] = [p for p in item["fields"] if p.get("field_key") != key]
        item["fields"].append({"field_key": key, **pair})


# -- work items ---------------------------------------------------------------------------


@handles("work_items.create")
def create_work_item(state: State, call: Call) -> Any:
    pairs = call.get("field_value_pairs") or []
    name = call.get("name") or next(
        (p.get("field_value") for p in pairs if p.get("field_key") == "name"), None
    )
    if not name:
        raise ApiFailure(20038, "Required Field Is Not Set: name")
    wid, at, who = state.new_id(), now_ms(), call.user_key or state.config.user_key
    item: dict[str, Any] = {
        "id": wid,
        "name": name,
        "project_key": call.get("project_key"),
        "work_item_type_key": call.get("work_item_type_key"),
        "simple_name": call.get("project_key"),
        "template_id": call.get("template_id") or 1,
        "pattern": "Node",
        "sub_stage": NODES[0][0],
        "work_item_status": {
            "state_key": NODES[0][0],
            "is_archived_state": False,
            "is_init_state": True,
            "updated_at": at,
            "updated_by": who,
        },
        "current_nodes": [{"id": NODES[0][0], "name": NODES[0][1], "owners": [who]}],
        "state_times": [{"state_key": NODES[0][0], "name": NODES[0][1], "start_time": at}],
        "created_by": who,
        "updated_by": who,
        "created_at": at,
        "updated_at": at,
        "fields": [],
        "_aborted": False,
        "_frozen": False,
        "_nodes": {key: IN_PROGRESS if i == 0 else NOT_ARRIVED for i, (key, _) in enumerate(NODES)},
        "_subtasks": {key: [] for key, _ in NODES},
    }
    _set_fields(item, [p for p in pairs if p.get("field_key") != "name"])
    state.work_items[wid] = item
    return wid


@handles("work_items.query")
def query_work_items(state: State, call: Call) -> Any:
    found = [
        _public(state.work_items[w])
        for w in call.get("work_item_ids")
        if w in state.work_items
        and state.work_items[w]["work_item_type_key"] == call.get("work_item_type_key")
        and state.work_items[w]["project_key"] == call.get("project_key")
    ]
    if not found:
        raise ApiFailure(30005, status=404)
    return found


def _in_range(value: int, bounds: dict[str, Any] | None) -> bool:
    if not bounds:
        return True
    return bool(bounds.get("start", 0) <= value <= bounds.get("end", 1 << 62))


@handles("work_items.filter")
def filter_work_items(state: State, call: Call) -> Any:
    types = set(call.get("work_item_type_keys"))
    ids = set(call.get("work_item_ids") or ())
    users = set(call.get("user_keys") or ())
    states = {s.get("state_key") for s in call.get("work_item_status") or ()}
    name = call.get("work_item_name")
    matches = [
        _public(item)
        for item in state.work_items.values()
        if item["project_key"] == call.get("project_key")
        and item["work_item_type_key"] in types
        and (not item["_aborted"] or "closed" in states)  # aborted items only on request
        and (not ids or item["id"] in ids)
        and (not name or name in item["name"])
        and (not users or bool(users & {item["created_by"], _field(item, "owner")}))
        and (not states or item["work_item_status"]["state_key"] in states)
        and _in_range(item["created_at"], call.get("created_at"))
        and _in_range(item["updated_at"], call.get("updated_at"))
    ]
    # The page states no order; the sandbox keeps a stable one (oldest first), the least an
    # offset-paged listing needs, and the one export resumption checks for (created_at, id).
    matches.sort(key=lambda item: (item["created_at"], item["id"]))
    page, pagination = _page(call, matches, 50)
    return page, {"pagination": pagination}


@handles("work_items.update")
def update_work_item(state: State, call: Call) -> Any:
    item = state.writable(call)
    _set_fields(item, call.get("update_fields"))
    _touch(item, call)
    return None


@handles("work_items.delete")
def delete_work_item(state: State, call: Call) -> Any:
    item = state.work_item(call)
    del state.work_items[item["id"]]
    return {}


@handles("work_items.abort")
def abort_work_item(state: State, call: Call) -> Any:
    item = state.work_item(call)
    aborting = call.get("is_aborted", True)
    if not (call.get("reason") or call.get("reason_option")):
        raise ApiFailure(20009)
    if aborting and item["_aborted"]:
        raise ApiFailure(20007)
    if not aborting and not item["_aborted"]:
        raise ApiFailure(20008)
    item["_aborted"] = aborting
    _touch(item, call)
    return {}


@handles("work_items.freeze")
def freeze_work_item(state: State, call: Call) -> Any:
    item = state.work_item(call)
    item["_frozen"] = call.get("is_frozen")
    _touch(item, call)
    return {}


# -- workflow -----------------------------------------------------------------------------


def _node(item: dict[str, Any], node_id: str) -> int:
    if node_id not in item["_nodes"]:
        raise ApiFailure(20018)
    return int(item["_nodes"][node_id])


def _enter(item: dict[str, Any], node_id: str, at: int) -> None:
    name = dict(NODES)[node_id]
    item["_nodes"][node_id] = IN_PROGRESS
    item["current_nodes"] = [{"id": node_id, "name": name, "owners": [item["created_by"]]}]
    item["sub_stage"] = node_id
    item["work_item_status"] = {**item["work_item_status"], "state_key": node_id, "updated_at": at}
    item["state_times"].append({"state_key": node_id, "name": name, "start_time": at})


@handles("workflows.query")
def query_workflow(state: State, call: Call) -> Any:
    item = state.work_item(call)
    return {
        "template_id": item["template_id"],
        "workflow_nodes": [
            {
                "id": key,
                "state_key": key,
                "name": name,
                "status": item["_nodes"][key],
                "owners": [item["created_by"]],
                "sub_tasks": item["_subtasks"][key],
            }
            for key, name in NODES
        ],
        "connections": [
            {"source_state_key": a, "target_state_key": b, "transition_id": i + 1}
            for i, ((a, _), (b, _)) in enumerate(itertools.pairwise(NODES))
        ],
    }


@handles("workflows.operate_node")
def operate_node(state: State, call: Call) -> Any:
    item = state.writable(call)
    node_id, action, at = call.get("node_id"), call.get("action", "confirm"), now_ms()
    status = _node(item, node_id)
    keys = [key for key, _ in NODES]
    index = keys.index(node_id)
    if action == "rollback":
        if status != PASSED:
            raise ApiFailure(20037)
        for later in keys[index + 1 :]:
            item["_nodes"][later] = NOT_ARRIVED
        _enter(item, node_id, at)
        _touch(item, call)
        return {}
    if status == PASSED:
        raise ApiFailure(20017)
    if status == NOT_ARRIVED:
        raise ApiFailure(20016)
    item["_nodes"][node_id] = PASSED
    item["state_times"][-1]["end_time"] = at
    if index + 1 < len(keys):
        _enter(item, keys[index + 1], at)
    else:
        item["current_nodes"] = []
    _touch(item, call)
    return {}


@handles("workflows.change_state")
def change_state(state: State, call: Call) -> Any:
    item = state.writable(call)
    transition = call.get("transition_id")
    keys = [key for key, _ in NODES]
    current = item["work_item_status"]["state_key"]
    if not 1 <= transition < len(keys) or keys[transition - 1] != current:
        raise ApiFailure(10002, f"Illegal Operation: no transition {transition} from {current}")
    item["_nodes"][current] = PASSED
    _enter(item, keys[transition], now_ms())
    _touch(item, call)
    return {}


# -- subtasks -----------------------------------------------------------------------------


def _subtask(item: dict[str, Any], task_id: int) -> tuple[str, dict[str, Any]]:
    for node_id, tasks in item["_subtasks"].items():
        for task in tasks:
            if task["id"] == str(task_id):  # listed as a string, created and addressed as a number
                return node_id, task
    raise ApiFailure(20046)


@handles("subtasks.list")
def list_subtasks(state: State, call: Call) -> Any:
    item = state.work_item(call)
    node_id = call.get("node_id")
    _node(item, node_id)
    return [{"id": node_id, "state_key": node_id, "sub_tasks": item["_subtasks"][node_id]}]


@handles("subtasks.create")
def create_subtask(state: State, call: Call) -> Any:
    item = state.writable(call)
    node_id = call.get("node_id")
    _node(item, node_id)
    task_id = state.new_id()
    task = {
        "id": str(task_id),
        "name": call.get("name"),
        "passed": False,
        "assignee": call.get("assignee") or [],
        "note": call.get("note", ""),
        "schedules": [call.get("schedule")] if call.get("schedule") else [],
    }
    item["_subtasks"][node_id].append(task)
    _touch(item, call)
    return task_id


@handles("subtasks.update")
def update_subtask(state: State, call: Call) -> Any:
    item = state.writable(call)
    _, task = _subtask(item, call.get("task_id"))
    for key in ("name", "assignee", "note", "deliverable"):
        if key in call.args:
            task[key] = call.args[key]
    if "schedule" in call.args:
        task["schedules"] = [call.args["schedule"]]
    _touch(item, call)
    return {}


@handles("subtasks.operate")
def operate_subtask(state: State, call: Call) -> Any:
    item = state.writable(call)
    _, task = _subtask(item, call.get("task_id"))
    task["passed"] = call.get("action") != "rollback"
    _touch(item, call)
    return {}


@handles("subtasks.delete")
def delete_subtask(state: State, call: Call) -> Any:
    item = state.writable(call)
    node_id, task = _subtask(item, call.get("task_id"))
    item["_subtasks"][node_id].remove(task)
    _touch(item, call)
    return None


# -- comments -----------------------------------------------------------------------------


def _comment(state: State, call: Call) -> dict[str, Any]:
    item = state.work_item(call)
    comment = state.comments.get(call.get("comment_id"))
    if comment is None or comment["work_item_id"] != item["id"]:
        raise ApiFailure(20045)
    return comment


def add_comment(state: State, call: Call, store: dict[int, dict[str, Any]], **content: Any) -> int:
    """A new comment (text or file) on the call's work item, kept in ``store``."""
    item = state.work_item(call)
    cid = state.new_id()
    store[cid] = {
        "id": cid,
        "work_item_id": item["id"],
        "work_item_type_key": item["work_item_type_key"],
        "created_at": now_ms(),
        "operator": call.user_key,
        **content,
    }
    return cid


def comment_page(state: State, call: Call, store: dict[int, dict[str, Any]]) -> Any:
    """One page of the comments in ``store`` on the call's work item."""
    item = state.work_item(call)
    mine = [c for c in store.values() if c["work_item_id"] == item["id"]]
    page, pagination = _page(call, mine, 10)
    return page, {"pagination": pagination}


@handles("comments.create")
def create_comment(state: State, call: Call) -> Any:
    state.work_item(call)
    doc = call.get("doc_rich_text")
    content = (
        call.get("content") or _plain_text(call.get("rich_text")) or (doc or {}).get("doc_text")
    )
    if not content:
        raise ApiFailure(20005, "Missing Param: content or rich_text")
    # doc_rich_text: the Go SDK's document-format body, echoed
    extra = {"doc_rich_text": doc} if doc else {}
    return add_comment(state, call, state.comments, content=content, **extra)


@handles("comments.list")
def list_comments(state: State, call: Call) -> Any:
    return comment_page(state, call, state.comments)


@handles("comments.update")
def update_comment(state: State, call: Call) -> Any:
    comment = _comment(state, call)
    if call.user_key and comment["operator"] != call.user_key:
        raise ApiFailure(10001, "No Permission: only the comment's author may update it")
    comment["content"] = call.get("content") or _plain_text(call.get("rich_text"))
    return None


@handles("comments.delete")
def delete_comment(state: State, call: Call) -> Any:
    comment = _comment(state, call)
    del state.comments[comment["id"]]
    return None


def _plain_text(rich: Any) -> str:
    if isinstance(rich, dict):
        return "".join(
            _plain_text(v)
            for k, v in rich.items()
            if k in ("text", "content", "elements", "children", "paragraph", "blocks")
        )
    if isinstance(rich, list):
        return "".join(_plain_text(v) for v in rich)
    return rich if isinstance(rich, str) else ""


# -- attachments --------------------------------------------------------------------------


@handles("attachments.upload")
def upload_attachment(state: State, call: Call) -> Any:
    item = state.writable(call)
    filename, content = call.files["file"]
    if len(content) > 100 * 1024 * 1024:
        raise ApiFailure(20024)
    uid = f"{state.new_id():x}"
    state.files[uid] = (filename, content)
    key = call.get("field_key") or call.get("field_alias") or "attachment"
    files = _field(item, key) or []
    files.append({"uid": uid, "name": filename, "size": len(content), "type": "file"})
    _set_fields(item, [{"field_key": key, "field_type_key": "multi_file", "field_value": files}])
    _touch(item, call)
    return None


@handles("attachments.upload_file")
def upload_file(state: State, call: Call) -> Any:
    filename, content = call.files["file"]
    uid = f"{state.new_id():x}"
    state.files[uid] = (filename, content)
    return f"https://sandbox.feishu.invalid/files/{uid}"


@handles("attachments.download")
def download_attachment(state: State, call: Call) -> Any:
    state.work_item(call)
    found = state.files.get(call.get("uuid"))
    if found is None:
        raise ApiFailure(30015, status=404)
    filename, content = found
    return web.Response(
        body=content,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@handles("attachments.delete")
def delete_attachments(state: State, call: Call) -> Any:
    item = state.writable(call)
    gone = set(call.get("uuids"))
    for pair in item["fields"]:
        if pair.get("field_type_key") == "multi_file":
            pair["field_value"] = [f for f in pair["field_value"] if f["uid"] not in gone]
    for uid in gone:
        state.files.pop(uid, None)
    _touch(item, call)
    return {}


# -- views --------------------------------------------------------------------------------


def _view(state: State, call: Call) -> dict[str, Any]:
    view = state.views.get(call.get("view_id"))
    if view is None or view["_project_key"] != call.get("project_key", view["_project_key"]):
        raise ApiFailure(13001, status=404)
    return view


def _new_view(state: State, call: Call, **members: Any) -> dict[str, Any]:
    view = {
        "view_id": f"view_{state.new_id()}",
        "name": call.get("name"),
        "editable": True,
        "created_at": now_ms(),
        "created_by": call.user_key,
        "modified_by": call.user_key,
        "_project_key": call.get("project_key"),
        "_work_item_type_key": call.get("work_item_type_key"),
        **members,
    }
    state.views[view["view_id"]] = view
    return view


@handles("views.create_fix_view")
def create_fix_view(state: State, call: Call) -> Any:
    return _public(_new_view(state, call, work_item_id_list=list(call.get("work_item_id_list"))))


@handles("views.create_condition_view")
def create_condition_view(state: State, call: Call) -> Any:
    view = _new_view(state, call, _search_group=call.get("search_group"))
    return {"view_id": view["view_id"]}


@handles("views.update_fix_view")
def update_fix_view(state: State, call: Call) -> Any:
    view = _view(state, call)
    if "work_item_id_list" not in view:
        raise ApiFailure(20011)
    ids = [
        i for i in view["work_item_id_list"] if i not in set(call.get("remove_work_item_ids") or ())
    ]
    ids += [i for i in call.get("add_work_item_ids") or () if i not in ids]
    view["work_item_id_list"], view["modified_by"] = ids, call.user_key
    return _public(view)


@handles("views.list_work_items")
def list_view_work_items(state: State, call: Call) -> Any:
    view = _view(state, call)
    if "work_item_id_list" not in view:
        raise ApiFailure(20011)
    page, pagination = _page(call, view["work_item_id_list"], 50)
    return {**_public(view), "work_item_id_list": page}, {"pagination": pagination}


@handles("views.list")
def list_views(state: State, call: Call) -> Any:
    wanted = set(call.get("view_ids") or ())
    views = [
        {
            "view_id": v["view_id"],
            "name": v["name"],
            "view_type": 1 if "work_item_id_list" in v else 2,
            "created_at": v["created_at"],
            "created_by": v["created_by"],
            "collaborators": [],
        }
        for v in state.views.values()
        if v["_project_key"] == call.get("project_key")
        and v["_work_item_type_key"] == call.get("work_item_type_key")
        and (not wanted or v["view_id"] in wanted)
        and (not call.get("view_name") or call.get("view_name") in v["name"])
    ]
    page, pagination = _page(call, views, 10)
    return page, {"pagination": pagination}


@handles("views.delete")
def delete_view(state: State, call: Call) -> Any:
    del state.views[_view(state, call)["view_id"]]
    return None


# -- Open Platform: OKR progress records, tasks -------------------------------------------


@handles("okr.create_progress_record")
def create_progress_record(state: State, call: Call) -> Any:
    record = {
        "progress_id": str(state.new_id()),
        "modify_time": str(now_ms()),
        "content": call.get("content"),
    }
    if call.get("progress_rate") is not None:
        record["progress_rate"] = call.get("progress_rate")
    state.progress_records[record["progress_id"]] = record
    return record


@handles("okr.get_progress_record")
def get_progress_record(state: State, call: Call) -> Any:
    record = state.progress_records.get(call.get("progress_id"))
    if record is None:
        raise ApiFailure(1001004, status=404)
    return record


@handles("task.patch")
def patch_task(state: State, call: Call) -> Any:
    task_id = call.get("task_id")
    task = state.tasks.setdefault(
        task_id,  # any task id exists: the SDK has no call that creates tasks
        {"id": task_id, "summary": "", "create_time": str(now_ms() // 1000), "can_edit": True},
    )
    update = call.get("task")
    for name in call.get("update_fields"):
        if name in update:
            task[name] = update[name]
        else:
            task.pop(name, None)
    task["update_time"] = str(now_ms() // 1000)
    return {"task": task}
