"""Open pages in a real headless browser and report what a reviewer's browser would show wrong.

Debian's Chromium, started headless (``--headless --no-sandbox --remote-debugging-port=0``), driven over the
DevTools protocol through one websocket (the ``websocket-client`` package). Playwright's and Selenium's own
browser downloads do not work offline (TOOLING.md), and the protocol gives what a screenshot cannot: console
messages and every network request.

For each page, :meth:`Browser.check` returns a :class:`PageReport` with

* ``console_errors``: ``console.error`` calls, uncaught exceptions and the browser's own error log (a script or
  stylesheet that failed to load, for instance);
* ``offsite_requests``: every request for anything but ``file:``, ``data:``, ``blob:`` or ``about:`` (such
  requests are blocked, so a check never reaches the network, but they are still recorded);
* ``broken_links``: ``<a href>`` targets on this machine that do not exist (a missing file, or an in-page
  ``#anchor`` with no element of that id); links to the web are not followed;
* ``broken_images``: ``<img>`` elements that did not load;
* ``width``: the page's ``scrollWidth`` at the viewport width (1,280 px), wider than the viewport when the page
  scrolls sideways.

Shared by tests/test_browser.py (pages with each fault, so the checks can fail) and tests/test_pipeline.py (the
pipeline's reviewer pages).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Where Chromium is looked for (the ``CHROMIUM`` environment variable first); ``make browser`` installs Debian's.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
LOCAL_SCHEMES = ("file", "data", "blob", "about")
VIEWPORT = (1280, 900)

#: Collected in the page after load: links (resolved, with the raw attribute for in-page anchors), images that
#: did not load, and the page's width against the viewport's.
_PROBE = """(() => {
  const links = [...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.href]);
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
                                     .map(i => i.getAttribute('src') || '(no src)');
  const ids = links.filter(([raw]) => raw.startsWith('#') && raw.length > 1)
                   .filter(([raw]) => !document.getElementById(decodeURIComponent(raw.slice(1))))
                   .map(([raw]) => raw);
  return JSON.stringify({links: links.map(([, abs]) => abs), missing_anchors: ids, images: images,
                         scroll_width: document.documentElement.scrollWidth, inner_width: window.innerWidth,
                         title: document.title});
})()"""


_SCROLL = """[...document.querySelectorAll('table, h1, h2, h3, h4, p, pre, figcaption')]
  .find(e => e.textContent.includes(%s))?.scrollIntoView()"""


class BrowserNotFound(RuntimeError):
    pass


def find_chromium() -> str:
    """The Chromium executable, or a clear error saying how to install it."""
    for name in filter(None, (os.environ.get("CHROMIUM"), *CANDIDATES)):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserNotFound("Chromium not found (looked for $CHROMIUM, " + ", ".join(CANDIDATES) + "): run "
                          "`make browser` (installs Debian's chromium with apt-get, needs root), or set CHROMIUM "
                          "to a Chromium or Chrome executable")


@dataclass
class PageReport:
    url: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    offsite_requests: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    width: int = 0
    viewport: int = VIEWPORT[0]

    @property
    def too_wide(self) -> bool:
        return self.width > self.viewport

    def problems(self) -> list[str]:
        """Every fault, one line each (empty when the page is clean)."""
        out = [f"console error: {m}" for m in self.console_errors]
        out += [f"request leaves the machine: {u}" for u in self.offsite_requests]
        out += [f"broken link: {u}" for u in self.broken_links]
        out += [f"broken image: {u}" for u in self.broken_images]
        if self.too_wide:
            out.append(f"page is {self.width} px wide at a {self.viewport} px window (scrolls sideways)")
        return [f"{self.url}: {p}" for p in out]


def _local_target_missing(url: str) -> bool:
    """A ``file:`` link whose file does not exist (its ``#fragment`` is not checked in another page)."""
    parts = urlsplit(url)
    return parts.scheme == "file" and not Path(unquote(parts.path)).exists()


class Browser:
    """One headless Chromium, one DevTools websocket; each :meth:`check` opens the page in a fresh tab."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0):
        self.executable = executable or find_chromium()
        self.timeout = timeout
        self._ids = 0
        self._events: list[dict] = []

    def __enter__(self) -> Browser:
        import websocket

        self._profile = tempfile.TemporaryDirectory(prefix="chromium-")
        args = [self.executable, "--headless", "--no-sandbox", "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--mute-audio",
                f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        active = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (active.exists() and len(active.read_text().split()) >= 2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                err = self._process.stderr.read().decode(errors="replace") if self._process.poll() is not None else ""
                self.close()
                raise RuntimeError(f"{self.executable} did not start its DevTools endpoint: {err[-2000:]}")
            time.sleep(0.05)
        port, path = active.read_text().split()[:2]
        self._ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=self.timeout,
                                               suppress_origin=True)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            try:
                self.send("Browser.close")
            except Exception:  # noqa: BLE001 - the browser may already be gone; it is killed below
                pass
            ws.close()
            self._ws = None
        process = getattr(self, "_process", None)
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stderr.close()
            self._process = None
        profile = getattr(self, "_profile", None)
        if profile is not None:
            profile.cleanup()
            self._profile = None

    # -- the protocol: commands wait for their answer; events are queued meanwhile -------------------------

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._ids += 1
        message = {"id": self._ids, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._ids:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)
        raise TimeoutError(f"DevTools {method}: no answer in {self.timeout} s")

    def _wait(self, session: str, method: str) -> None:
        """Read events until ``method`` arrives for ``session``."""
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == method and e.get("sessionId") == session for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} did not arrive in {self.timeout} s")
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            self._events.append(json.loads(self._ws.recv()))
        self._ws.settimeout(self.timeout)

    def _settle(self, quiet: float = 0.5) -> None:
        """Read events until none has arrived for ``quiet`` seconds (late requests and console messages)."""
        import websocket

        self._ws.settimeout(quiet)
        try:
            while True:
                self._events.append(json.loads(self._ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self._ws.settimeout(self.timeout)

    # -- one page ---------------------------------------------------------------------------------------

    def check(self, page: str | Path, screenshot: Path | None = None, scroll_to: str | None = None) -> PageReport:
        """Load ``page`` (a path or URL) at a 1,280 px window and report its faults; optionally save a PNG of
        one screen at that width: the first, or the one that starts at the first table, heading or paragraph
        whose text contains ``scroll_to``."""
        url = Path(page).resolve().as_uri() if not urlsplit(str(page)).scheme else str(page)
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=session)
            self.send("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*",
                                                          "ftp://*"]}, session=session)
            self.send("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT[0], "height": VIEWPORT[1],
                                                             "deviceScaleFactor": 1, "mobile": False},
                      session=session)
            self._events = [e for e in self._events if e.get("sessionId") != session]
            self.send("Page.navigate", {"url": url}, session=session)
            self._wait(session, "Page.loadEventFired")
            self._settle()
            probe = json.loads(self.send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True},
                                         session=session)["result"]["value"])
            if screenshot is not None:
                if scroll_to:
                    self.send("Runtime.evaluate", {"expression": _SCROLL % json.dumps(scroll_to)}, session=session)
                shot = self.send("Page.captureScreenshot", {"format": "png"}, session=session)
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            events = [e for e in self._events if e.get("sessionId") == session]
        finally:
            self.send("Target.closeTarget", {"targetId": target})
            self._events = [e for e in self._events if e.get("sessionId") != session]
        return self._report(url, probe, events)

    @staticmethod
    def _report(url: str, probe: dict, events: list[dict]) -> PageReport:
        report = PageReport(url=url, title=probe["title"], width=probe["scroll_width"], viewport=probe["inner_width"])
        for event in events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                report.console_errors.append(text)
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                report.console_errors.append(details.get("exception", {}).get("description")
                                             or details.get("text", "uncaught exception"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                report.console_errors.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                request_url = params.get("request", {}).get("url", "")
                if urlsplit(request_url).scheme not in LOCAL_SCHEMES:
                    report.offsite_requests.append(request_url)
        report.broken_links = sorted({u for u in probe["links"] if _local_target_missing(u)}
                                     | set(probe["missing_anchors"]))
        report.broken_images = probe["images"]
        return report


def reviewer_pages(root: Path, notebook: str = "reports/notebooks/01_nhanes_mortality.html") -> list[Path]:
    """The pages a reviewer opens: the index, every HTML document the ``paper`` stage declares in dvc.yaml (the
    paper and, once declared, the supplement) and one executed notebook."""
    from support.stage_deps import load_stages

    documents = [o for o in load_stages(root)["paper"].outs if o.endswith(".html")]
    return [Path(root) / p for p in ("reports/index.html", *documents, notebook)]
