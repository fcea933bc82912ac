"""Check the built documentation in a real browser (headless Chromium).

    python scripts/check_site.py [docs/_build/html] [--screenshots DIR]

Serves the built site on 127.0.0.1, opens every page in headless Chromium (Debian's
``chromium`` package; nothing is downloaded) driven over the DevTools protocol with the standard
library only, and fails when a page logs a console error or an uncaught exception, a request
fails or answers >= 400, an image does not decode, or an internal link points at a missing
page or a missing #anchor. Saves screenshots of the landing page and one gallery page.
Exit status: 0 all good, 1 problems found (listed), 2 the browser could not be run.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SCREENSHOTS = {"landing.png": "index.html",
               "gallery.png": "auto_examples/plot_02_normalization.html"}


class BrowserError(Exception):
    """The browser could not be started or stopped answering."""


# ---------------------------------------------------------------------------------------
# A minimal WebSocket client (RFC 6455), enough for the DevTools protocol


class WebSocket:
    def __init__(self, url: str, timeout: float):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise BrowserError("the browser closed the DevTools connection")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise BrowserError(f"DevTools refused the connection: {head[:80]!r}")

    def _exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise BrowserError("the browser closed the DevTools connection")
            data += chunk
        return bytes(data)

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])  # FIN + text frame
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)  # clients must mask their frames
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self) -> str:
        message = bytearray()
        while True:
            first, second = self._exact(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise BrowserError("the browser closed the DevTools connection")
            if opcode in (0x9, 0xA):  # ping/pong: not part of a message
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class DevTools:
    """Commands and events of one page target."""

    def __init__(self, url: str, timeout: float):
        self.ws = WebSocket(url, timeout)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, deadline: float) -> None:
        while not any(e["method"] == event for e in self.events):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {event}")
            self.ws.sock.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)


# ---------------------------------------------------------------------------------------
# The browser and the site


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("no Chromium found; install it with `apt-get install -y chromium`")


def start_browser(profile: Path, timeout: float) -> tuple[subprocess.Popen, int]:
    command = [find_browser(), "--headless=new", "--remote-debugging-port=0",
               "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
               "--no-first-run", "--no-default-browser-check", "--disable-gpu",
               "--disable-extensions", "--disable-background-networking",
               "--disable-component-update", "--window-size=1280,900", "about:blank"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"Chromium exited with status {process.returncode}: "
                               f"{process.stderr.read().decode(errors='replace')[-500:]}")
        if port_file.is_file():
            text = port_file.read_text().split()
            if text:
                return process, int(text[0])
        time.sleep(0.1)
    process.kill()
    raise BrowserError(f"Chromium did not open its DevTools port within {timeout:.0f} s")


def page_target(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
        targets = json.load(reply)
    for target in targets:
        if target.get("type") == "page":
            return target["webSocketDebuggerUrl"]
    raise BrowserError("Chromium has no page to drive")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@functools.cache
def anchors_of(file: Path) -> frozenset[str]:
    parser = Anchors()
    parser.feed(file.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


# What each page reports back: its images and links as the browser resolved them.
PAGE_FACTS = """JSON.stringify({
  images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src,
                                               ok: i.complete && i.naturalWidth > 0})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  title: document.title
})"""


def problems_on_page(tools: DevTools, url: str, site: Path, base: str,
                     timeout: float) -> list[str]:
    tools.events.clear()
    tools.call("Page.navigate", url=url)
    tools.wait_for("Page.loadEventFired", time.monotonic() + timeout)
    # scroll to the bottom and back so lazily loaded images load too
    tools.call("Runtime.evaluate", expression="window.scrollTo(0, document.body.scrollHeight)")
    time.sleep(0.3)
    facts = json.loads(tools.call("Runtime.evaluate", expression=PAGE_FACTS,
                                  returnByValue=True)["result"]["value"])
    found = []
    for event in tools.events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", "")))
                            for a in params.get("args", []))
            found.append(f"console error: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("uncaught exception: "
                         + details.get("exception", {}).get("description", details.get("text")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            found.append(f"browser error: {params['entry'].get('text')} "
                         f"{params['entry'].get('url', '')}".rstrip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"request failed: {params.get('errorText')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            found.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    for image in facts["images"]:
        if not image["ok"]:
            found.append(f"image does not load: {image['src']}")
    for link in facts["links"]:
        if not link.startswith(base):
            continue  # external links are not checked (no network here)
        target, _, fragment = link[len(base):].partition("#")
        target = urllib.parse.unquote(target.split("?")[0])
        file = site / target
        if target == "" or target.endswith("/"):
            file = file / "index.html"
        if not file.is_file():
            found.append(f"link to a missing page: {link}")
        elif fragment and file.suffix == ".html" and \
                urllib.parse.unquote(fragment) not in anchors_of(file):
            found.append(f"link to a missing anchor: {link}")
    return found


def screenshot(tools: DevTools, url: str, path: Path, timeout: float) -> None:
    tools.events.clear()
    tools.call("Page.navigate", url=url)
    tools.wait_for("Page.loadEventFired", time.monotonic() + timeout)
    time.sleep(0.5)  # fonts and the theme's scripts settle
    data = tools.call("Page.captureScreenshot", format="png")["data"]
    path.write_bytes(base64.b64decode(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default=str(ROOT / "docs" / "_build" / "html"))
    parser.add_argument("--screenshots", default=None,
                        help="folder for the screenshots (default: SITE/../screenshots)")
    parser.add_argument("--page-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    site = Path(args.site).resolve()
    if not (site / "index.html").is_file():
        print(f"check_site: {site} has no index.html; build the docs first", file=sys.stderr)
        return 2
    shots = Path(args.screenshots) if args.screenshots else site.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if not p.relative_to(site).parts[0].startswith("_"))

    server, base = serve(site)
    profile = Path(tempfile.mkdtemp(prefix="check_site_"))
    process = None
    try:
        process, port = start_browser(profile, args.page_timeout)
        tools = DevTools(page_target(port), args.page_timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                   deviceScaleFactor=1, mobile=False)
        failures = 0
        for page in pages:
            found = problems_on_page(tools, base + page, site, base, args.page_timeout)
            failures += len(found)
            for problem in found:
                print(f"{page}: {problem}")
        for name, page in SCREENSHOTS.items():
            screenshot(tools, base + page, shots / name, args.page_timeout)
        tools.ws.close()
    except (BrowserError, OSError) as error:
        print(f"check_site: {error}", file=sys.stderr)
        return 2
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"check_site: {len(pages)} pages, {failures} problems; screenshots in {shots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
