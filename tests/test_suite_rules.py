"""Rules the test suite keeps: fakes sit at the SDK's transport seam, never inside aiohttp."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parent

# Patching aiohttp's classes (as the aioresponses shims did) tests a fake aiohttp, and
# breaks with each aiohttp release. A test that needs a fake uses tests/mock_transport.py;
# a test about aiohttp itself uses a real server (tests/wire_servers.py, the sandbox).
AIOHTTP_PATCHES = re.compile(
    r"setattr\(\s*aiohttp\b"  # monkeypatch.setattr(aiohttp.ClientResponse, ...)
    r"|\baiohttp(?:\.\w+)+\s*=[^=]"  # aiohttp.ClientResponse.__init__ = ...
    r"|patch(?:\.object)?\(\s*['\"]?aiohttp"  # mock.patch("aiohttp..."), patch.object(aiohttp...)
    r"|\baioresponses\b"
)


def aiohttp_patches(source: str) -> list[str]:
    return [m.group(0) for m in AIOHTTP_PATCHES.finditer(source)]


def test_the_detector_finds_the_patches_it_forbids() -> None:
    shim = "aiohttp.ClientResponse.__init__ = init\n"
    fixture = 'monkeypatch.setattr(aiohttp.ClientResponse, "__init__", init)\n'
    mocked = "from aioresponses import aioresponses\nwith patch('aiohttp.ClientSession'):\n"
    assert aiohttp_patches(shim) and aiohttp_patches(fixture)
    assert len(aiohttp_patches(mocked)) == 3
    assert aiohttp_patches("if aiohttp.__version__ == '3': pass\n") == []


def test_no_test_module_patches_aiohttp() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__) and (found := aiohttp_patches(path.read_text("utf-8")))
    }
    assert offenders == {}
