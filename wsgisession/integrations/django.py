"""Django on wsgisession: ``request.session`` backed by the WSGI session.

Two pieces, both needed::

    # settings.py: in place of django.contrib.sessions.middleware.SessionMiddleware
    MIDDLEWARE = ["wsgisession.integrations.django.SessionMiddleware", ...]
    WSGISESSION = {"store": "sqlite:///sessions.db"}   # any SessionMiddleware keyword

    # wsgi.py
    from django.core.wsgi import get_wsgi_application
    from wsgisession.integrations.django import wrap
    application = wrap(get_wsgi_application())

:func:`wrap` takes the secret from ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` still
verify) and the cookie from the ``SESSION_COOKIE_*`` settings. The middleware gives
each request a :class:`DjangoSession`, which offers the parts of Django's
``SessionBase`` that Django and common apps use: ``login()`` rotates the id,
``logout()`` destroys the session, messages and ``CSRF_USE_SESSIONS`` work.
Only WSGI deployments are supported (ASGI has no environ to wrap).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
from django.utils import timezone  # type: ignore[import-untyped]

from ..middleware import SessionMiddleware as WSGISessionMiddleware
from ..session import Session
from ._proxy import SessionProxy

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DjangoSession", "SessionMiddleware", "wrap"]


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def wrap(application: WSGIApplication, **options: Any) -> WSGISessionMiddleware:
    """Wrap Django's WSGI ``application`` in :class:`wsgisession.SessionMiddleware`.

    Defaults come from Django's settings: ``secret`` from ``SECRET_KEY`` and
    ``SECRET_KEY_FALLBACKS``; ``cookie_name``, ``max_age`` (``None`` with
    ``SESSION_EXPIRE_AT_BROWSER_CLOSE``), ``path``, ``domain``, ``secure``, ``httponly``
    and ``samesite`` from ``SESSION_COOKIE_*``; ``rolling`` from
    ``SESSION_SAVE_EVERY_REQUEST``. The ``WSGISESSION`` dict setting overrides them,
    and ``options`` override that.
    """
    merged = {**_defaults_from_settings(), **_setting("WSGISESSION", {}), **options}
    return WSGISessionMiddleware(application, **merged)


def _defaults_from_settings() -> dict[str, Any]:
    secret = [settings.SECRET_KEY, *_setting("SECRET_KEY_FALLBACKS", [])]
    if not secret[0]:
        raise ImproperlyConfigured("wsgisession needs a secret: set SECRET_KEY or WSGISESSION['secret']")
    browser_close = _setting("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
    return {
        "secret": secret,
        "cookie_name": _setting("SESSION_COOKIE_NAME", "sessionid"),
        "max_age": None if browser_close else _setting("SESSION_COOKIE_AGE", 1_209_600),
        "path": _setting("SESSION_COOKIE_PATH", "/"),
        "domain": _setting("SESSION_COOKIE_DOMAIN", None),
        "secure": True if _setting("SESSION_COOKIE_SECURE", False) else "auto",
        "httponly": _setting("SESSION_COOKIE_HTTPONLY", True),
        "samesite": _setting("SESSION_COOKIE_SAMESITE", "Lax") or None,
        "rolling": _setting("SESSION_SAVE_EVERY_REQUEST", False),
    }


class SessionMiddleware:
    """Django middleware: sets ``request.session`` to the request's :class:`DjangoSession`.

    List it in ``MIDDLEWARE`` where Django's own session middleware would be (before
    auth, messages and CSRF). The WSGI application must be wrapped with :func:`wrap`;
    saving happens there, when the response starts.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.environ_key: str = _setting("WSGISESSION", {}).get("environ_key", "wsgisession")

    def __call__(self, request: Any) -> Any:
        """Attach the session, then pass the request on."""
        session = request.META.get(self.environ_key)
        if not isinstance(session, Session):
            raise ImproperlyConfigured(
                f"no wsgisession session at request.META[{self.environ_key!r}]: wrap the WSGI application, "
                "e.g. application = wsgisession.integrations.django.wrap(get_wsgi_application())"
            )
        request.session = DjangoSession(session)
        return self.get_response(request)


class DjangoSession(SessionProxy):
    """The parts of Django's ``SessionBase`` that Django itself uses, over a wsgisession
    :class:`~wsgisession.Session` (kept as :attr:`wsgisession`).

    Differences from Django's backends, by design: changes, nested ones included, are
    detected without ``modified = True``; :meth:`save` is not needed (the session is
    saved when the response starts) and an empty session is never stored, so
    :attr:`session_key` stays ``None`` until something is put in it; an expiry set
    with a ``datetime`` becomes an idle timeout of that many seconds.
    """

    TEST_COOKIE_NAME = "testcookie"
    TEST_COOKIE_VALUE = "worked"

    @property
    def session_key(self) -> str | None:
        """The session id, or ``None`` for a new session that holds nothing yet."""
        session = self.wsgisession
        if session.is_new and not len(session):
            return None
        return session.id

    @property
    def modified(self) -> bool:
        """Whether this request changed the session; detected, so setting it does nothing."""
        return self.wsgisession.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        pass  # Django code sets this after nested mutation; wsgisession sees such changes itself

    @property
    def accessed(self) -> bool:
        """Whether this request used the session."""
        return self.wsgisession.accessed

    def has_key(self, key: str) -> bool:
        """Whether ``key`` is in the session."""
        return key in self.wsgisession

    def is_empty(self) -> bool:
        """Whether the session holds nothing (an empty session is never stored)."""
        return not len(self.wsgisession)

    def cycle_key(self) -> None:
        """Give the session a new id, keeping its data; the old id is dead after this
        request (:meth:`wsgisession.Session.regenerate`). ``login()`` calls it."""
        self.wsgisession.regenerate()

    def flush(self) -> None:
        """Delete the session and expire its cookie (:meth:`wsgisession.Session.destroy`).
        ``logout()`` calls it; what is written afterwards starts a new session."""
        self.wsgisession.destroy()

    def save(self, must_create: bool = False) -> None:
        """Nothing to do: the session is saved when the response starts."""

    # --- expiry ------------------------------------------------------------------------

    def set_expiry(self, value: int | datetime | timedelta | None) -> None:
        """Set this session's lifetime: seconds of inactivity, ``0`` for a browser-session
        cookie, a ``datetime`` or ``timedelta`` (converted to seconds from now), or
        ``None`` for the default from ``SESSION_COOKIE_AGE`` and
        ``SESSION_EXPIRE_AT_BROWSER_CLOSE``."""
        if value is None:
            del self.wsgisession.max_age
            return
        if isinstance(value, datetime):
            value = cast(timedelta, value - timezone.now())
        if isinstance(value, timedelta):
            self.wsgisession.max_age = max(int(value.total_seconds()), 1)  # a past date: it ends at once
            return
        self.wsgisession.max_age = value or None

    def get_expiry_age(self) -> int:
        """Seconds until the session expires if left idle (``SESSION_COOKIE_AGE`` for a
        browser-session cookie, as in Django)."""
        max_age = self.wsgisession.max_age
        return int(settings.SESSION_COOKIE_AGE) if max_age is None else max_age

    def get_expiry_date(self) -> datetime:
        """When the session expires if left idle."""
        return cast(datetime, timezone.now()) + timedelta(seconds=self.get_expiry_age())

    def get_expire_at_browser_close(self) -> bool:
        """Whether the cookie ends with the browser session."""
        return self.wsgisession.max_age is None

    def get_session_cookie_age(self) -> int:
        """``SESSION_COOKIE_AGE``."""
        return int(settings.SESSION_COOKIE_AGE)

    # --- the test cookie ---------------------------------------------------------------

    def set_test_cookie(self) -> None:
        """Store a marker to learn, on the next request, whether the browser keeps cookies."""
        self[self.TEST_COOKIE_NAME] = self.TEST_COOKIE_VALUE

    def test_cookie_worked(self) -> bool:
        """Whether the marker of :meth:`set_test_cookie` came back."""
        return bool(self.get(self.TEST_COOKIE_NAME) == self.TEST_COOKIE_VALUE)

    def delete_test_cookie(self) -> None:
        """Remove the marker."""
        del self[self.TEST_COOKIE_NAME]

    # --- the async API that django.contrib.auth's alogin/alogout/aget_user use --------

    async def aget(self, key: str, default: Any = None) -> Any:
        """Async :meth:`get`."""
        return self.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        """Async item assignment."""
        self[key] = value

    async def apop(self, key: str, *default: Any) -> Any:
        """Async :meth:`pop`."""
        return self.pop(key, *default)

    async def ahas_key(self, key: str) -> bool:
        """Async :meth:`has_key`."""
        return key in self

    async def acycle_key(self) -> None:
        """Async :meth:`cycle_key`."""
        self.cycle_key()

    async def aflush(self) -> None:
        """Async :meth:`flush`."""
        self.flush()
