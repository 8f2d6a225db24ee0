"""Calling as a user: user_access_token in X-PLUGIN-TOKEN, renewed through refresh_token."""

from __future__ import annotations

import json

import pytest
from aioresponses import aioresponses

from aiofeishu import AuthenticationError, ProjectClient, UserToken

BASE = "http://feishu.test"
SEARCH = f"{BASE}/open_api/user/search"
REFRESH = f"{BASE}/open_api/authen/refresh_token"
OK = {"err_code": 0, "err_msg": "", "err": {}, "data": []}
REJECTED = {"err_code": 10022, "err_msg": "Check Token Failed", "err": {"code": 10022}}


async def test_rejected_user_token_is_refreshed_once_and_the_call_retried() -> None:
    with aioresponses() as m:
        m.post(SEARCH, status=401, payload=REJECTED)
        m.post(
            REFRESH,
            payload={
                "data": {"token": "u-new", "expire_time": 7200, "refresh_token": "r-2"},
                "error": {"code": 0, "msg": "success"},
            },
        )
        m.post(SEARCH, payload=OK)
        async with ProjectClient(
            base_url=BASE, user_token=UserToken("u-old", refresh_token="r-1")
        ) as c:
            result = await c.users.search(query="x")
        calls = [(k[0], str(k[1]), v) for k, vs in m.requests.items() for v in vs]
    assert result.data == []
    searches = m.requests[("POST", __import__("yarl").URL(SEARCH))]
    assert [s.kwargs["headers"]["X-PLUGIN-TOKEN"] for s in searches] == ["u-old", "u-new"]
    assert all("X-USER-KEY" not in s.kwargs["headers"] for s in searches)
    refresh = m.requests[("POST", __import__("yarl").URL(REFRESH))][0]
    assert json.loads(refresh.kwargs["data"]) == {"refresh_token": "r-1", "type": 1}
    assert len(calls) == 3


async def test_without_refresh_token_a_rejection_is_an_authentication_error() -> None:
    with aioresponses() as m:
        m.post(SEARCH, status=401, payload=REJECTED)
        async with ProjectClient(base_url=BASE, user_token="u-only") as c:
            with pytest.raises(AuthenticationError):
                await c.users.search(query="x")


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
