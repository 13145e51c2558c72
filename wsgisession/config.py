"""Every setting of the middleware in one place, checked once at construction.

A mistake in configuration is a :class:`ValueError` that says what to change, raised
when the middleware is built rather than on the first request.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .ids import valid_id

__all__ = ["CookieOptions", "ExpiryOptions", "SecureSetting", "cookie_options", "expiry_options", "secret_list"]

SecureSetting = Literal["auto"] | bool
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
_PRIORITY = {"low": "Low", "medium": "Medium", "high": "High"}
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+=:@/%]*")
_DOMAIN = re.compile(r"\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_SHORT_SECRET = 32


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """How the session cookie is named and written."""

    name: str = "session"
    path: str = "/"
    domain: str | None = None
    secure: SecureSetting = "auto"
    httponly: bool = True
    samesite: str | None = "Lax"
    partitioned: bool = False
    priority: str | None = None
    trust_proxy: bool = False

    @property
    def always_secure(self) -> bool:
        """Whether the cookie must carry Secure on every response."""
        return self.secure is True


@dataclass(frozen=True, slots=True)
class ExpiryOptions:
    """How long sessions live: ``max_age`` idle seconds (``None`` for browser-session
    cookies, with ``idle_timeout`` still ending them on the server), an optional
    ``absolute_timeout`` from creation, and ``rolling`` renewal."""

    max_age: int | None = 1_209_600
    absolute_timeout: int | None = None
    rolling: bool = False

    @property
    def idle_timeout(self) -> int:
        """Seconds a session is kept on the server without a write or a rolling touch."""
        return self.max_age if self.max_age is not None else 1_209_600


def secret_list(secret: str | bytes | Sequence[str | bytes]) -> list[bytes]:
    """The key ring as bytes: the first secret signs, every one verifies."""
    if secret is None:
        raise ValueError("secret is required: pass a random string, e.g. from `wsgisession secret`")
    if isinstance(secret, (str, bytes)):
        items: list[object] = [secret]
    elif isinstance(secret, (list, tuple)):
        items = list(secret)
    else:
        raise ValueError(f"secret must be str, bytes or a list of them, not {type(secret).__name__}")
    if not items:
        raise ValueError("secret is empty: pass a random string, e.g. from `wsgisession secret`")
    ring = []
    for item in items:
        if not isinstance(item, (str, bytes)):
            raise ValueError(f"secret must be str or bytes, not {type(item).__name__}")
        raw = item.encode("utf-8") if isinstance(item, str) else item
        if not raw:
            raise ValueError("secret is empty: pass a random string, e.g. from `wsgisession secret`")
        ring.append(raw)
    if len(ring[0]) < _SHORT_SECRET:
        warnings.warn(
            f"the signing secret is {len(ring[0])} bytes; use at least {_SHORT_SECRET} random bytes "
            "(`wsgisession secret` prints one)",
            stacklevel=4,
        )
    return ring


def cookie_options(  # noqa: PLR0912 - one check per setting, read top to bottom
    name: str,
    path: str,
    domain: str | None,
    secure: SecureSetting,
    httponly: bool,
    samesite: str | None,
    partitioned: bool,
    priority: str | None,
    trust_proxy: bool,
) -> CookieOptions:
    """Check and normalise the cookie settings."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"cookie_name {name!r} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)")
    if not _PATH.fullmatch(path):
        raise ValueError(f"path {path!r} must start with '/' and hold only URL path characters (percent-encode others)")
    if domain is not None and not _DOMAIN.fullmatch(domain):
        raise ValueError(f"domain {domain!r} is not a host name; use e.g. 'example.com' or None")
    if secure not in ("auto", True, False):
        raise ValueError(f"secure must be 'auto', True or False, not {secure!r}")
    prefixed = name.startswith(("__Host-", "__Secure-"))
    if prefixed:
        if secure is False:
            raise ValueError(f"cookie_name {name!r} needs secure=True: browsers drop such cookies without Secure")
        secure = True
    if name.startswith("__Host-") and (domain is not None or path != "/"):
        raise ValueError(f"cookie_name {name!r} needs domain=None and path='/' (the __Host- prefix forbids others)")
    if samesite is not None:
        if not isinstance(samesite, str) or samesite.lower() not in _SAMESITE:
            raise ValueError(f"samesite must be 'Strict', 'Lax', 'None' or None, not {samesite!r}")
        samesite = _SAMESITE[samesite.lower()]
        if samesite == "None" and secure is not True:
            raise ValueError("samesite='None' needs secure=True: browsers reject SameSite=None cookies without Secure")
    if partitioned and secure is not True:
        raise ValueError("partitioned=True needs secure=True: browsers reject Partitioned cookies without Secure")
    if priority is not None:
        if priority.lower() not in _PRIORITY:
            raise ValueError(f"priority must be 'Low', 'Medium', 'High' or None, not {priority!r}")
        priority = _PRIORITY[priority.lower()]
    return CookieOptions(name, path, domain, secure, httponly, samesite, partitioned, priority, trust_proxy)


def expiry_options(max_age: int | None, absolute_timeout: int | None, rolling: bool) -> ExpiryOptions:
    """Check the lifetime settings."""
    for label, value in (("max_age", max_age), ("absolute_timeout", absolute_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ValueError(f"{label} must be a positive number of seconds or None, not {value!r}")
    return ExpiryOptions(max_age, absolute_timeout, rolling)


def check_genid(genid: Callable[[], str]) -> Callable[[], str]:
    """Refuse a ``genid`` that is not callable or whose first id has the wrong shape."""
    if not callable(genid):
        raise ValueError("genid must be a function returning a new URL-safe session id")
    sample = genid()
    if not isinstance(sample, str) or not valid_id(sample):
        raise ValueError(f"genid returned {sample!r}; session ids must be 22-128 URL-safe base64 characters")
    return genid
