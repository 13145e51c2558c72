"""`wsgisession demo` as a real process on a real port, driven over HTTP with a cookie jar."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    """A running demo server and a browser-like client with a cookie jar."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.port = _free_port()
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "wsgisession", "demo", "--port", str(self.port), "--store", self.store_url]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the demo did not start listening within 15 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def get(self, path: str = "/", cookie: str | None = None) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if cookie is not None:
            request.add_header("Cookie", cookie)
            body: bytes = urllib.request.urlopen(request, timeout=5).read()
        else:
            body = self.opener.open(request, timeout=5).read()
        return body.decode()

    def post(self, path: str, data: str) -> str:
        body: bytes = self.opener.open(f"http://127.0.0.1:{self.port}{path}", data.encode(), timeout=5).read()
        return body.decode()

    def post_raw(self, path: str, cookie: str) -> http.client.HTTPResponse:
        """POST without following the redirect, to see the response's own headers."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        connection.request("POST", path, body=b"", headers={"Cookie": f"session={cookie}"})
        return connection.getresponse()

    def cookie(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "session"), None)


def count(page: str) -> int:
    match = re.search(r'id="count">(\d+)<', page)
    assert match, page
    return int(match.group(1))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    server = Demo(f"sqlite:///{tmp_path}/demo.db")
    server.start()
    yield server
    server.stop()


def test_counter_login_logout_and_tampering(demo: Demo) -> None:
    assert [count(demo.get()) for _ in range(3)] == [1, 2, 3]
    before_login = demo.cookie()
    page = demo.post("/login", "user=ada&remember=1")
    assert "Logged in as ada" in page and count(page) == 4
    assert demo.cookie() not in (None, before_login)
    assert count(demo.get("/", cookie=f"session={before_login}")) == 1  # the pre-login id is dead
    demo.post("/cart", "item=tea")
    assert "<li>tea</li>" in demo.get()
    logged_in = demo.cookie()
    assert logged_in is not None
    expired = demo.post_raw("/logout", logged_in).getheader("Set-Cookie") or ""
    assert expired.startswith("session=;") and "Max-Age=0" in expired
    assert count(demo.get("/", cookie=f"session={logged_in}")) == 1  # the logged-out id is dead
    page = demo.post("/logout", "")
    assert "Not logged in" in page and count(page) == 1
    valid = demo.cookie()
    assert valid is not None
    tampered = valid[:-2] + ("AA" if not valid.endswith("AA") else "BB")
    assert count(demo.get("/", cookie=f"session={tampered}")) == 1
    assert count(demo.get("/", cookie="session=\x7fgarbage")) == 1


def test_sessions_survive_a_server_restart(demo: Demo) -> None:
    demo.get()
    demo.get()
    demo.stop()
    demo.start()
    assert count(demo.get()) == 3
