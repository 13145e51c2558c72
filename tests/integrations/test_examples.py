"""Each example app started as a real process, used over HTTP like a browser would."""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, OpenerDirector, build_opener

import pytest
from mirakuru import HTTPExecutor

from wsgisession.testing import require_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FRAMEWORKS = ["flask", "django", "pyramid", "bottle"]
TOKEN = re.compile(r'name="(csrf_token|csrfmiddlewaretoken)" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(params=FRAMEWORKS)
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Start examples/<framework>/app.py on a free port; yield its URL; always stop it."""
    require_module(request.param)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = HTTPExecutor(
        [sys.executable, str(EXAMPLES / request.param / "app.py"), "--port", str(port)],
        url=url,
        method="GET",
        timeout=30,
        cwd=str(tmp_path),
        envvars={
            "WSGISESSION_EXAMPLE_STORE": f"sqlite:///{tmp_path}/sessions.db",
            "DJANGO_EXAMPLE_DB": str(tmp_path / "django.db"),
            "DJANGO_SETTINGS_MODULE": "example_site.settings",  # not the tests' own
        },
    )
    server.start()
    try:
        yield url
    finally:
        server.stop()


class Browser:
    """urllib with a cookie jar: follows redirects, posts forms with their CSRF token."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener: OpenerDirector = build_opener(HTTPCookieProcessor(CookieJar()))
        self.page = ""

    def get(self) -> str:
        with self.opener.open(self.url, timeout=10) as response:
            self.page = response.read().decode()
        return self.page

    def post(self, path: str, **fields: str) -> str:
        found = TOKEN.search(self.page)
        if found:
            fields[found.group(1)] = found.group(2)
        with self.opener.open(self.url + path, urlencode(fields).encode(), timeout=10) as response:
            self.page = response.read().decode()
        return self.page


def visits(page: str) -> int:
    found = re.search(r"Visits: (\d+)", page)
    assert found, page
    return int(found.group(1))


def test_example_counts_logs_in_and_out(example: str) -> None:
    browser = Browser(example)
    assert visits(browser.get()) == 1
    assert visits(browser.get()) == 2
    page = browser.post("login", username="demo", password="wrong")
    assert "Wrong username or password." in page and "Logged in" not in page
    page = browser.post("login", username="demo", password="demo")
    assert "Welcome, demo." in page and "Logged in as demo." in page and visits(page) == 4
    assert "Welcome" not in browser.get()  # a flash message is shown once
    page = browser.post("logout")
    assert "Logged out." in page and "Logged in" not in page and visits(page) == 1
