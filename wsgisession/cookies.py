"""The session cookie: signing and verifying its value, reading it from a request,
and writing the ``Set-Cookie`` header with WebOb.

The value is ``<id>.<signature>``, where the signature is an HMAC-SHA256 of the id
under a key derived from a secret for this purpose alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from typing import Any

import webob.cookies
from webob.cookies import make_cookie

from .config import CookieOptions
from .ids import valid_id

__all__ = ["MAX_COOKIE_BYTES", "KeyRing", "expire_header", "is_https", "read_cookies", "set_header"]

MAX_COOKIE_BYTES = 4096
_PURPOSE = b"wsgisession/v1/cookie-signature"


class KeyRing:
    """Signs with the first secret and verifies with every one, for key rotation."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self._hmacs = [hmac.new(self.derive(s), digestmod=hashlib.sha256) for s in secrets]
        # A session's cookie comes back on every request and is re-sent on every write:
        # remembering recent answers spares an HMAC each way. Only values that verified
        # are remembered, so a forged value always pays for its full check.
        self._verified: dict[str, str] = {}
        self._signed: dict[str, str] = {}

    @staticmethod
    def derive(secret: bytes) -> bytes:
        """The signing key for ``secret``: used for cookies and nothing else."""
        return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()

    def _signature(self, index: int, sid: str) -> str:
        mac = self._hmacs[index].copy()
        mac.update(sid.encode("ascii"))
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def sign(self, sid: str) -> str:
        """The cookie value for ``sid``, signed with the first secret."""
        value = self._signed.get(sid)
        if value is None:
            value = f"{sid}.{self._signature(0, sid)}"
            _remember(self._signed, sid, value)
        return value

    def unsign(self, value: str) -> str | None:
        """The id in a cookie value if its signature verifies under any secret, else ``None``."""
        known = self._verified.get(value)
        if known is not None:
            return known
        sid, dot, signature = value.rpartition(".")
        if not dot or len(signature) != 43 or not valid_id(sid):
            return None
        for index in range(len(self._hmacs)):
            if hmac.compare_digest(self._signature(index, sid), signature):
                _remember(self._verified, value, sid)
                if index == 0:
                    _remember(self._signed, sid, value)
                return sid
        return None

    def signed_by(self, value: str) -> int | None:
        """Which secret (by position) signed ``value``; for tests and key-rotation audits."""
        sid, _, signature = value.rpartition(".")
        for index in range(len(self._hmacs)):
            if valid_id(sid) and hmac.compare_digest(self._signature(index, sid), signature):
                return index
        return None


_REMEMBERED = 4096


def _remember(cache: dict[str, str], key: str, value: str) -> None:
    if len(cache) >= _REMEMBERED:
        cache.clear()  # crude, but bounded and lock-free; the next requests refill it
    cache[key] = value


def read_cookies(environ: dict[str, Any], name: str) -> list[str]:
    """Every value the request sends for cookie ``name``, in order, skipping any that
    is oversized or not ASCII (so ``session=garbage; session=<valid>`` still finds the
    valid one)."""
    header = environ.get("HTTP_COOKIE")
    if not header or name not in header:
        return []
    simple = _single_simple_value(header, name)
    if simple is not None:
        return [simple]
    wanted = name.encode("latin-1")
    values = []
    for key, value in parse_cookie(header):
        if key == wanted and len(value) <= MAX_COOKIE_BYTES and value.isascii():
            values.append(value.decode("ascii"))
    return values


parse_cookie = webob.cookies.parse_cookie  # type: ignore[attr-defined]  # public, but not in the stubs
_SIMPLE_VALUE = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_COOKIE_BYTES}}}")


def _single_simple_value(header: str, name: str) -> str | None:
    """The value of ``name`` when the header holds it once, unquoted, made only of
    the characters our own cookies use; else ``None``, and WebOb's parser decides.
    WebOb's parser is exact but costs more than the rest of a read request."""
    marker = name + "="
    start = header.find(marker)
    if start < 0 or start != header.rfind(marker) or (start > 0 and header[start - 1] not in "; "):
        return None
    start += len(marker)
    end = header.find(";", start)
    value = header[start:end] if end >= 0 else header[start:]
    return value if _SIMPLE_VALUE.fullmatch(value) else None


def is_https(environ: dict[str, Any], trust_proxy: bool) -> bool:
    """Whether the client reached us over https. ``X-Forwarded-Proto`` counts only
    with ``trust_proxy``, and then its last value: the one our own proxy set."""
    if environ.get("wsgi.url_scheme") == "https":
        return True
    if trust_proxy:
        forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO", ""))
        return forwarded.rpartition(",")[2].strip().lower() == "https"
    return False


def set_header(options: CookieOptions, value: str, max_age: int | None, secure: bool) -> str:
    """The ``Set-Cookie`` value for a session cookie; ``max_age=None`` makes it end
    with the browser session."""
    # Building a cookie with WebOb costs more than the rest of a request; the header
    # differs between requests only in the value and, each second, in Expires.
    now = int(time.time())
    template = _templates.get((options, max_age, secure, now))
    if template is None:
        if len(_templates) > 64:
            _templates.clear()
        template = _build(options, _PLACEHOLDER, max_age, secure)
        _templates[(options, max_age, secure, now)] = template
    return template.replace(_PLACEHOLDER, value, 1)


_PLACEHOLDER = "wsgisession-cookie-value"
_templates: dict[tuple[CookieOptions, int | None, bool, int], str] = {}


def _build(options: CookieOptions, value: str, max_age: int | None, secure: bool) -> str:
    cookie = make_cookie(
        options.name,
        value,
        max_age=max_age,
        path=options.path,
        domain=options.domain,
        secure=secure,
        httponly=options.httponly,
        samesite=options.samesite,  # type: ignore[arg-type]  # checked by cookie_options()
    )
    # WebOb writes neither Priority nor Partitioned.
    if options.priority is not None:
        cookie += f"; Priority={options.priority}"
    if options.partitioned:
        cookie += "; Partitioned"
    return cookie


def expire_header(options: CookieOptions, secure: bool) -> str:
    """The ``Set-Cookie`` value that deletes the session cookie: same name, Path and
    Domain, empty value, ``Max-Age=0``."""
    return set_header(options, "", 0, secure)
