"""File endpoints: multipart uploads from a path, bytes or an async stream; streamed downloads."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiofeishu import FileUpload, ProjectClient, RequestValidationError
from aiofeishu.sandbox import Sandbox
from tests.mock_transport import MockTransport, ok

BLOB = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A real server (multipart is encoded by aiohttp, decoded by aiohttp.web)."""
    async with Sandbox(threaded=True) as sandbox:
        yield sandbox


async def new_story(client: ProjectClient, sb: Sandbox) -> dict[str, Any]:
    created = await client.work_items.create(
        project_key=sb.project_key, work_item_type_key="story", name="with files"
    )
    return {
        "project_key": sb.project_key,
        "work_item_type_key": "story",
        "work_item_id": created.data,
    }


@pytest.mark.parametrize("kind", ["path", "bytes", "stream", "upload"])
async def test_upload_sends_multipart_with_the_documented_field_names(
    sb: Sandbox, tmp_path: Path, kind: str
) -> None:
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
    async with sb.project_client() as c:
        target = await new_story(c, sb)
        await c.attachments.upload(**target, file=file, field_key="field_b1ea4b")
    [seen] = sb.calls("attachments.upload")
    assert seen.headers["Content-Type"].startswith("multipart/form-data")
    assert "X-IDEM-UUID" in seen.headers
    assert seen.body["field_key"] == "field_b1ea4b"  # a plain form field, not a file
    [(filename, content)] = sb.state.files.values()
    assert content == BLOB
    assert filename == {"path": "report.bin", "upload": "r.bin"}.get(kind, "file")


async def test_a_file_argument_of_the_wrong_type_is_refused_unsent() -> None:
    transport = MockTransport(lambda request: ok("https://files.test/1"))
    async with ProjectClient("p", "s", user_key="u", transport=transport) as c:
        with pytest.raises(RequestValidationError, match="file"):
            await c.attachments.upload_file(project_key="p1", file=12345)  # type: ignore[arg-type]
    assert transport.seen == []


async def test_download_streams_to_a_file_and_to_an_iterator(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    async with sb.project_client() as c:
        target = await new_story(c, sb)
        await c.attachments.upload(**target, file=FileUpload(BLOB, filename="blob.bin"))
        [uuid] = sb.state.files
        size = await c.attachments.download(**target, uuid=uuid).to_file(out)
        digest = hashlib.sha256()
        chunks = 0
        async for chunk in c.attachments.download(**target, uuid=uuid):
            assert len(chunk) <= 1 << 16  # arrives piecewise, never whole
            digest.update(chunk)
            chunks += 1
    assert size == len(BLOB) and out.read_bytes() == BLOB
    assert not (tmp_path / "out.bin.part").exists()
    assert digest.hexdigest() == hashlib.sha256(BLOB).hexdigest() and chunks > 1
    assert [r.body["uuid"] for r in sb.calls("attachments.download")] == [uuid, uuid]
