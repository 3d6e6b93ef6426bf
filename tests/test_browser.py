"""The browser driver (tests/support/browser.py) finds each fault it is meant to find, on tiny pages that hold it.

Every page but the clean one holds exactly one fault, so each check is shown both to fire and to stay quiet.
Chromium is required: without it the tests fail (not skip), naming `make browser`.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from support.browser import Browser, BrowserNotFound, find_chromium

PAGES = {
    "clean": "<h1 id='top'>ok</h1><a href='clean.html'>self</a> <a href='#top'>top</a> "
             "<a href='https://example.org/'>a link to the web is not a request</a><img src='dot.png' alt='dot'>"
             "<img src='data:image/png;base64,{dot}' alt='inline'>"
             "<script>console.log('a log line is not an error')</script>",
    "console_error": "<script>console.error('boom')</script>",
    "exception": "<script>throw new Error('thrown')</script>",
    "offsite_script": "<script src='https://cdn.example.org/require.js'></script>",
    "broken_link": "<a href='missing.html'>gone</a>",
    "broken_anchor": "<a href='#nowhere'>nowhere</a>",
    "broken_image": "<img src='missing.png' alt='missing'>",
    "wide": "<div style='width: 2000px'>wide</div>",
}


def one_pixel_png() -> bytes:
    """A valid 1x1 red PNG, written by hand (signature, IHDR, IDAT, IEND chunks with their CRCs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xc8\x00\x00"))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    import base64

    folder = tmp_path_factory.mktemp("pages")
    dot = one_pixel_png()
    (folder / "dot.png").write_bytes(dot)
    for name, body in PAGES.items():
        body = body.replace("{dot}", base64.b64encode(dot).decode())
        (folder / f"{name}.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{name}"
                                             f"</title></head><body>{body}</body></html>")
    with browser_or_fail() as browser:
        yield {name: browser.check(folder / f"{name}.html") for name in PAGES}


def browser_or_fail() -> Browser:
    try:
        return Browser(find_chromium())
    except BrowserNotFound as err:
        pytest.fail(str(err))


def test_clean_page_has_no_problem(reports):
    report = reports["clean"]
    assert report.problems() == [] and report.title == "clean"


@pytest.mark.parametrize(("page", "kind", "text"), [
    ("console_error", "console_errors", "boom"),
    ("exception", "console_errors", "thrown"),
    ("offsite_script", "offsite_requests", "https://cdn.example.org/require.js"),
    ("broken_link", "broken_links", "missing.html"),
    ("broken_anchor", "broken_links", "#nowhere"),
    ("broken_image", "broken_images", "missing.png"),
])
def test_each_fault_is_found(reports, page, kind, text):
    report = reports[page]
    found = getattr(report, kind)
    assert any(text in item for item in found), (page, report)
    assert report.problems(), page


def test_a_page_wider_than_the_window_is_found(reports):
    report = reports["wide"]
    assert report.too_wide and report.width >= 2000 and report.viewport == 1280
    assert any("scrolls sideways" in p for p in report.problems())
    assert not reports["clean"].too_wide


def test_missing_chromium_fails_naming_make_browser(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr("support.browser.CANDIDATES", ("chromium-not-here",))
    with pytest.raises(BrowserNotFound, match="make browser"):
        find_chromium()
