"""Session ids and the store keys derived from them."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

__all__ = ["generate_id", "store_key", "valid_id"]

_ID_CHARS = re.compile(r"[A-Za-z0-9_-]{22,128}")


def generate_id() -> str:
    """A new session id: 32 random bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def valid_id(sid: str) -> bool:
    """Whether ``sid`` has the shape of an id: 22 to 128 URL-safe base64 characters."""
    return _ID_CHARS.fullmatch(sid) is not None


@functools.lru_cache(maxsize=4096)
def store_key(sid: str) -> str:
    """The key a session is stored under: a SHA-256 of its id, so that a dump of the
    store, or a timing probe of its index, yields no usable session token."""
    return hashlib.sha256(sid.encode("ascii")).hexdigest()
