"""Headless Chromium (Debian's package) driven over the DevTools protocol: open a page, collect console
messages, exceptions and network requests, evaluate script, take a screenshot.

Chromium runs on a free loopback port with a throw-away profile and no network features, and is stopped
by its PID. websocket-client carries the protocol (provisioned by scripts/provision/chromium.sh).
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import websocket

from tests.support.procs import free_port, require_binary, running, wait_until

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


def _get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        return json.loads(r.read())


class Page:
    """One tab. ``events`` keeps every protocol event seen; ``errors()`` picks out the problems."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"{method} failed: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name: str) -> dict[str, Any]:
        for event in self.events:
            if event["method"] == name:
                return event
        while True:  # bounded by the socket timeout
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == name:
                    return msg

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and warnings, and browser log errors (CSP refusals, failed
        loads)."""
        found = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                found.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                found.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                found.append(f"log {p['entry']['level']}: {p['entry']['text']}")
        return found

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        path.write_bytes(data)
        return data

    def close(self) -> None:
        self.ws.close()


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[Page]:
    """A headless Chromium on a free loopback port; its first tab as a Page."""
    binary = require_binary("chromium")
    port = free_port()
    cmd = [binary, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-address=127.0.0.1",
           f"--remote-debugging-port={port}", "about:blank"]

    def ready() -> bool:
        return any(t.get("type") == "page" for t in _get(port, "/json/list"))

    with running(cmd, tmp_path / "chromium.log", ready, timeout=60, what="chromium DevTools endpoint"):
        target = next(t for t in _get(port, "/json/list") if t.get("type") == "page")
        page = Page(target["webSocketDebuggerUrl"])
        try:
            yield page
        finally:
            page.close()


__all__ = ["Page", "chromium", "wait_until"]
