"""Middleware keywords from string settings (an ini file's ``wsgisession.*`` keys).
Private to the integrations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"", "none"}


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected true or false, not {value!r}")


def _seconds(value: str) -> int | None:
    stripped = value.strip()
    return None if stripped.lower() in _NONE else int(stripped)


def _optional(value: str) -> str | None:
    stripped = value.strip()
    return None if stripped.lower() in _NONE else stripped


def _secret(value: str) -> list[str]:
    return value.split()  # one secret per line or word: the first signs, all verify


def _secure(value: str) -> str | bool:
    return "auto" if value.strip().lower() == "auto" else _boolean(value)


def _samesite(value: str) -> str | None:
    return None if value.strip() == "" else value.strip()  # "None" is SameSite=None; empty omits it


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "secret": _secret,
    "store": str.strip,
    "cookie_name": str.strip,
    "max_age": _seconds,
    "absolute_timeout": _seconds,
    "rolling": _boolean,
    "save_uninitialized": _boolean,
    "path": str.strip,
    "domain": _optional,
    "secure": _secure,
    "httponly": _boolean,
    "samesite": _samesite,
    "partitioned": _boolean,
    "priority": _optional,
    "trust_proxy": _boolean,
    "environ_key": str.strip,
    "save_on_error": _boolean,
    "conflicts": str.strip,
}


def options_from_settings(settings: Mapping[str, Any], prefix: str = "wsgisession.") -> dict[str, Any]:
    """The :class:`~wsgisession.SessionMiddleware` keywords found under ``prefix`` in
    ``settings``. String values are converted (``"3600"``, ``"none"``, ``"true"``);
    other values pass through. An unknown key is a :class:`ValueError` naming it."""
    options: dict[str, Any] = {}
    for key, value in settings.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        convert = _CONVERTERS.get(name)
        if convert is None:
            raise ValueError(f"unknown setting {key!r}; known: {', '.join(prefix + n for n in _CONVERTERS)}")
        try:
            options[name] = convert(value) if isinstance(value, str) else value
        except ValueError as exc:
            raise ValueError(f"setting {key!r}: {exc}") from None
    return options
