"""Renders a local HTML file in headless Chromium (Debian's `chromium`, installed by
scripts/ensure_chromium.sh) and reports what a person's browser would have seen, over the
DevTools protocol with `websocket-client`:

    page = render_page("/tmp/run/report.html")
    page.problems()      # [] when there is no script exception, console error, failed request,
                         # request to anything but file:// or data:, broken image, blank screenshot
    page.headings, page.text, page.screenshot_png

Chromium runs with its own temporary profile and is killed at the end, whatever happens.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np
import websocket
from PIL import Image

__all__ = ["PageResult", "render_page", "chromium_binary", "is_blank"]

# Screenshot pixels whose grey-level standard deviation is below this are a blank page.
BLANK_STD = 2.0


def chromium_binary() -> str:
    """The `chromium` on PATH (scripts/ensure_chromium.sh installs it; tests never skip)."""
    path = shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium is not installed: run `bash scripts/ensure_chromium.sh`")
    return path


@dataclasses.dataclass
class PageResult:
    """What loading the page produced."""

    url: str
    exceptions: list[str]
    console_errors: list[str]
    requests: list[str]
    failed_requests: list[str]
    images: list[dict]  # {"src": first 60 characters, "complete": bool, "naturalWidth": int}
    headings: list[str]
    text: str
    screenshot_png: bytes

    def problems(self) -> list[str]:
        """Every way the page fell short; [] for a clean page."""
        found = [f"script exception: {e}" for e in self.exceptions]
        found += [f"console error: {e}" for e in self.console_errors]
        found += [f"failed request: {r}" for r in self.failed_requests]
        found += [
            f"request to the network: {url}"
            for url in self.requests
            if not url.startswith(("file://", "data:"))
        ]
        found += [
            f"image not loaded: {image}"
            for image in self.images
            if not (image["complete"] and image["naturalWidth"] > 0)
        ]
        if is_blank(self.screenshot_png):
            found.append("the screenshot is blank")
        return found


def is_blank(png: bytes) -> bool:
    """True when the picture is (nearly) one colour: grey-level std below BLANK_STD."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
    return float(grey.std()) < BLANK_STD


class _DevTools:
    """One page target's DevTools websocket: commands by id, events kept in arrival order."""

    def __init__(self, url: str, timeout: float):
        self.socket = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.timeout = timeout

    def _receive(self, deadline: float) -> dict:
        self.socket.settimeout(max(0.1, deadline - time.monotonic()))
        message = json.loads(self.socket.recv())
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, **params) -> dict:
        """Sends a command and waits for its result (events that arrive meanwhile are kept)."""
        command_id = next(self.ids)
        self.socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = self._receive(deadline)
            if message.get("id") == command_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error']}")
                return message.get("result", {})
        raise TimeoutError(f"DevTools {method}: no answer in {self.timeout} s")

    def wait_for(self, method: str) -> dict:
        """The first event `method` (already received or arriving within the timeout)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event["method"] == method:
                    return event
            if time.monotonic() >= deadline:
                raise TimeoutError(f"DevTools: no {method} in {self.timeout} s")
            self._receive(deadline)

    def drain(self, seconds: float) -> None:
        """Collects the events that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._receive(deadline)
            except websocket.WebSocketTimeoutException:
                break

    def close(self) -> None:
        self.socket.close()


def _devtools_port(profile: str, process: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """(port, browser path) from the DevToolsActivePort file Chromium writes when it listens."""
    path = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before listening")
        if os.path.exists(path):
            lines = open(path).read().split()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        time.sleep(0.1)
    raise TimeoutError(f"chromium wrote no {path} in {timeout} s")


def _page_target(port: int, timeout: float) -> str:
    """The websocket URL of the browser's first page target."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            pages = [t for t in json.load(answer) if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise TimeoutError("chromium opened no page target")


def _exception_text(details: dict) -> str:
    """'TypeError: x is not a function (file:///a.html:1:20)' from Runtime.exceptionThrown."""
    thrown = details.get("exception", {})
    text = thrown.get("description") or thrown.get("value") or details.get("text", "")
    where = f"{details.get('url', '')}:{details.get('lineNumber', 0) + 1}"
    return f"{str(text).splitlines()[0] if text else 'exception'} ({where})"


_IMAGES_JS = (
    "JSON.stringify(Array.from(document.images).map(i => ({src: i.src.slice(0, 60), "
    "complete: i.complete, naturalWidth: i.naturalWidth})))"
)
_HEADINGS_JS = (
    "JSON.stringify(Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent))"
)


def render_page(
    html_path: str, *, width: int = 1280, timeout: float = 60.0, settle_s: float = 0.5
) -> PageResult:
    """Loads `html_path` (file://) in headless Chromium; the page's errors, requests, images,
    headings, text and a full-page screenshot.

    Args:
      width: the viewport's width in CSS pixels (the screenshot is the whole page's height).
      timeout: seconds for Chromium to start and for each DevTools step.
      settle_s: seconds to keep collecting events after the load event.
    """
    url = "file://" + os.path.abspath(html_path)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    log = open(os.path.join(profile, "chromium.log"), "wb")
    process = subprocess.Popen(
        [
            chromium_binary(),
            "--headless=new",
            "--no-sandbox",  # as root Chromium refuses to start without it
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--window-size={width},900",
            "about:blank",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    devtools = None
    try:
        port, _ = _devtools_port(profile, process, timeout)
        devtools = _DevTools(_page_target(port, timeout), timeout)
        for domain in ("Runtime", "Log", "Network", "Page"):
            devtools.call(f"{domain}.enable")
        devtools.events.clear()
        devtools.call("Page.navigate", url=url)
        devtools.wait_for("Page.loadEventFired")
        devtools.drain(settle_s)

        def evaluate(expression: str):
            result = devtools.call("Runtime.evaluate", expression=expression, returnByValue=True)
            return json.loads(result["result"]["value"])

        images = evaluate(_IMAGES_JS)
        headings = [h.strip() for h in evaluate(_HEADINGS_JS)]
        text = evaluate("JSON.stringify(document.body.innerText)")
        metrics = devtools.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = devtools.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        )
        events = devtools.events
        urls = {
            e["params"]["requestId"]: e["params"]["request"]["url"][:200]
            for e in events
            if e["method"] == "Network.requestWillBeSent"
        }
        return PageResult(
            url=url,
            exceptions=[
                _exception_text(e["params"]["exceptionDetails"])
                for e in events
                if e["method"] == "Runtime.exceptionThrown"
            ],
            console_errors=[
                " ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                for e in events
                if e["method"] == "Runtime.consoleAPICalled"
                and e["params"].get("type") in ("error", "assert")
            ]
            + [
                f"{e['params']['entry'].get('text', '')} ({e['params']['entry'].get('url', '')})"
                for e in events
                if e["method"] == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
            ],
            requests=[
                e["params"]["request"]["url"][:200]
                for e in events
                if e["method"] == "Network.requestWillBeSent"
            ],
            failed_requests=[
                f"{urls.get(e['params'].get('requestId'), '?')}: {e['params'].get('errorText', '')}"
                for e in events
                if e["method"] == "Network.loadingFailed"
            ],
            images=images,
            headings=headings,
            text=text,
            screenshot_png=base64.b64decode(shot["data"]),
        )
    finally:
        if devtools is not None:
            devtools.close()
        # The browser and its helper processes: the process group this call started, by its id.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
