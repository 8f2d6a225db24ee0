"""File endpoints: multipart uploads from a path, bytes or an async stream; streamed downloads."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aiofeishu import FileUpload, ProjectClient, RequestValidationError
from tests.fake_server import FakeFeishu

UPLOAD = "/open_api/p1/work_item/story/42/file/upload"
UPLOAD_FILE = "/open_api/p1/file/upload"
DOWNLOAD = "/open_api/p1/work_item/story/42/file/download"
BLOB = bytes(range(256)) * 4096  # 1 MiB


def serve_files(fake: FakeFeishu, received: list[dict[str, Any]]) -> None:
    async def upload(request: web.Request, ctx: dict[str, Any]) -> Any:
        return {"data": "ok", "err_code": 0, "err_msg": "", "err": {}}

    fake.on("POST", UPLOAD)(upload)
    fake.on("POST", UPLOAD_FILE)(upload)

    @fake.on("POST", DOWNLOAD)
    async def download(request: web.Request, ctx: dict[str, Any]) -> Any:
        received.append({"uuid": ctx["body"]["uuid"]})
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for i in range(0, len(BLOB), 65536):
            await response.write(BLOB[i : i + 65536])
        await response.write_eof()
        return response


def multipart_parts(raw: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    boundary = content_type.split("boundary=")[1].strip('"').encode()
    parts: dict[str, tuple[str | None, bytes]] = {}
    for chunk in raw.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = head.decode()
        name = headers.split('name="')[1].split('"')[0]
        filename = headers.split('filename="')[1].split('"')[0] if 'filename="' in headers else None
        parts[name] = (filename, body)
    return parts


@pytest.mark.parametrize("kind", ["path", "bytes", "stream", "upload"])
async def test_upload_sends_multipart_with_the_documented_field_names(
    fake: FakeFeishu, tmp_path: Path, kind: str
) -> None:
    serve_files(fake, [])
    source = tmp_path / "report.bin"
    source.write_bytes(BLOB)

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(BLOB), 100_000):
            yield BLOB[i : i + 100_000]

    file: Any = {
        "path": source,
        "bytes": BLOB,
        "stream": stream(),
        "upload": FileUpload(BLOB, filename="r.bin", content_type="application/pdf"),
    }[kind]
    async with ProjectClient("p", "s", user_key="u", base_url=fake.url) as c:
        await c.attachments.upload(
            project_key="p1",
            work_item_type_key="story",
            work_item_id=42,
            file=file,
            field_key="field_b1ea4b",
        )
    seen = fake.calls(UPLOAD)[0]
    assert seen.headers["Content-Type"].startswith("multipart/form-data")
    assert "X-IDEM-UUID" in seen.headers
    parts = multipart_parts(seen.body, seen.headers["Content-Type"])
    assert parts["field_key"] == (None, b"field_b1ea4b")
    filename, content = parts["file"]
    assert content == BLOB
    assert filename == {"path": "report.bin", "upload": "r.bin"}.get(kind, "file")


async def test_a_file_argument_of_the_wrong_type_is_refused_unsent(fake: FakeFeishu) -> None:
    async with ProjectClient("p", "s", user_key="u", base_url=fake.url) as c:
        with pytest.raises(RequestValidationError, match="file"):
            await c.attachments.upload_file(project_key="p1", file=12345)  # type: ignore[arg-type]
    assert fake.seen == []


async def test_download_streams_to_a_file_and_to_an_iterator(
    fake: FakeFeishu, tmp_path: Path
) -> None:
    received: list[dict[str, Any]] = []
    serve_files(fake, received)
    target = tmp_path / "out.bin"
    async with ProjectClient("p", "s", user_key="u", base_url=fake.url) as c:
        size = await c.attachments.download(
            project_key="p1", work_item_type_key="story", work_item_id=42, uuid="f-1"
        ).to_file(target)
        digest = hashlib.sha256()
        chunks = 0
        async for chunk in c.attachments.download(
            project_key="p1", work_item_type_key="story", work_item_id=42, uuid="f-1"
        ):
            assert len(chunk) <= 1 << 16  # arrives piecewise, never whole
            digest.update(chunk)
            chunks += 1
    assert size == len(BLOB) and target.read_bytes() == BLOB
    assert not (tmp_path / "out.bin.part").exists()
    assert digest.hexdigest() == hashlib.sha256(BLOB).hexdigest() and chunks > 1
    assert received == [{"uuid": "f-1"}, {"uuid": "f-1"}]
