"""Parsing of store URLs, shared by every store so that they read options alike.

``memcached://h1:11211,h2:11211?prefix=app1:&timeout=2`` becomes a :class:`StoreURL`
whose ``options`` are taken one by one with typed getters; whatever is left over when
the store has taken what it knows is reported as an error, so a typo in an option
name never passes silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

__all__ = ["StoreURL", "parse_store_url"]

_TRUE = {"1", "true", "yes", "on"}
_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#]*@")
_FALSE = {"0", "false", "no", "off"}


@dataclass
class StoreURL:
    """A store URL taken apart: ``scheme``, ``hosts`` as (host, port) pairs, the
    ``path`` after the hosts, the user name and password, and the query ``options``."""

    url: str
    scheme: str
    hosts: list[tuple[str, int | None]]
    path: str
    username: str | None = None
    password: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    taken: list[str] = field(default_factory=list)

    def text(self, name: str, default: str) -> str:
        """Take option ``name`` as text."""
        self.taken.append(name)
        return self.options.pop(name, default)

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        """Take option ``name`` as an integer no smaller than ``minimum``."""
        self.taken.append(name)
        raw = self.options.pop(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"store URL option {name}={raw!r} must be an integer") from None
        if value < minimum:
            raise ValueError(f"store URL option {name}={value} must be at least {minimum}")
        return value

    def seconds(self, name: str, default: float) -> float:
        """Take option ``name`` as a positive number of seconds."""
        self.taken.append(name)
        raw = self.options.pop(name, None)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"store URL option {name}={raw!r} must be a number of seconds") from None
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"store URL option {name}={raw} must be more than 0 seconds")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """Take option ``name`` as true/false (also 1/0, yes/no, on/off)."""
        self.taken.append(name)
        raw = self.options.pop(name, None)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"store URL option {name}={raw!r} must be true or false")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """Take option ``name`` as one of ``choices``."""
        self.taken.append(name)
        value = self.options.pop(name, default)
        if value not in choices:
            raise ValueError(f"store URL option {name}={value!r} must be one of {', '.join(choices)}")
        return value

    def finish(self) -> None:
        """Raise if the URL holds options that no getter took."""
        if self.options:
            unknown = ", ".join(sorted(self.options))
            known = ", ".join(sorted(self.taken)) or "none"
            raise ValueError(f"store URL {self.redacted()!r} has unknown option(s): {unknown} (known: {known})")

    def redacted(self) -> str:
        """The URL with any password replaced by ``***``, fit for messages and logs."""
        if self.password is None:
            return self.url
        return _PASSWORD.sub(r"\1***@", self.url, count=1)


def parse_store_url(url: str, default_port: int | None = None) -> StoreURL:
    """Split ``url`` into a :class:`StoreURL`. Hosts are comma-separated; IPv6 hosts
    go in brackets (``[::1]:6379``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"store URL {url!r} has no scheme")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = [_parse_host(part, default_port, url) for part in netloc.split(",") if part]
    options = dict(parse_qsl(query, keep_blank_values=True))
    return StoreURL(url, scheme.lower(), hosts, slash and unquote(path), username, password, options)


def _parse_host(text: str, default_port: int | None, url: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, after = text[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not port_text:
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"store URL {url!r} has a bad port {port_text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"store URL {url!r} has a port out of range: {port}")
    return host, port
