"""Calling as a user: user_access_token in X-PLUGIN-TOKEN, renewed through refresh_token."""

from __future__ import annotations

import pytest

from aiofeishu import AuthenticationError, ProjectClient, UserToken
from tests.mock_transport import ScriptedTransport, json_reply

BASE = "http://feishu.test"
SEARCH = "/open_api/user/search"
REFRESH = "/open_api/authen/refresh_token"
OK = {"err_code": 0, "err_msg": "", "err": {}, "data": []}
REJECTED = {"err_code": 10022, "err_msg": "Check Token Failed", "err": {"code": 10022}}


async def test_rejected_user_token_is_refreshed_once_and_the_call_retried() -> None:
    wire = ScriptedTransport()
    wire.add("POST", SEARCH, json_reply(REJECTED, status=401))
    refreshed = {"token": "u-new", "expire_time": 7200, "refresh_token": "r-2"}
    wire.add("POST", REFRESH, json_reply({"data": refreshed, "error": {"code": 0, "msg": ""}}))
    wire.add("POST", SEARCH, json_reply(OK))
    async with ProjectClient(
        base_url=BASE, user_token=UserToken("u-old", refresh_token="r-1"), transport=wire
    ) as c:
        result = await c.users.search(query="x")
    assert result.data == []
    searches = wire.sent("POST", SEARCH)
    assert [s.headers["X-PLUGIN-TOKEN"] for s in searches] == ["u-old", "u-new"]
    assert all("X-USER-KEY" not in s.headers for s in searches)
    [refresh] = wire.sent("POST", REFRESH)
    assert refresh.body == {"refresh_token": "r-1", "type": 1}
    assert len(wire.seen) == 3


async def test_without_refresh_token_a_rejection_is_an_authentication_error() -> None:
    wire = ScriptedTransport()
    wire.add("POST", SEARCH, json_reply(REJECTED, status=401))
    async with ProjectClient(base_url=BASE, user_token="u-only", transport=wire) as c:
        with pytest.raises(AuthenticationError):
            await c.users.search(query="x")
    assert len(wire.seen) == 1


def test_missing_credentials_are_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FEISHU_PROJECT_PLUGIN_ID", "FEISHU_PROJECT_PLUGIN_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="plugin_id and plugin_secret"):
        ProjectClient()


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEISHU_PROJECT_PLUGIN_ID", "env-id")
    monkeypatch.setenv("FEISHU_PROJECT_PLUGIN_SECRET", "env-secret")
    monkeypatch.setenv("FEISHU_PROJECT_USER_KEY", "env-user")
    monkeypatch.setenv("FEISHU_PROJECT_BASE_URL", "https://meego.example")
    c = ProjectClient()
    assert (c.plugin_id, c.user_key, c.base_url) == ("env-id", "env-user", "https://meego.example")
    assert "env-secret" not in repr(c)
