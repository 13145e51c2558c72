"""Bottle on wsgisession: a plugin that passes the session to the routes that ask for it.

::

    import bottle
    from wsgisession import SessionMiddleware
    from wsgisession.integrations.bottle import SessionPlugin

    app = bottle.Bottle()
    app.install(SessionPlugin())

    @app.route("/")
    def index(session):          # a wsgisession Session
        session["n"] = session.get("n", 0) + 1
        return f"{session['n']}"

    application = SessionMiddleware(app, secret="...", store="sqlite:///sessions.db")

Without the plugin, any route can use ``bottle.request.environ["wsgisession"]``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import bottle  # type: ignore[import-untyped]

from ..middleware import session_of

__all__ = ["SessionPlugin"]


class SessionPlugin:
    """Passes the request's :class:`~wsgisession.Session` as the ``keyword`` argument
    to every route whose callback has a parameter of that name; other routes are left
    as they are. The application must be wrapped in :class:`wsgisession.SessionMiddleware`."""

    name = "wsgisession"
    api = 2

    def __init__(self, keyword: str = "session", environ_key: str = "wsgisession") -> None:
        self.keyword = keyword
        self.environ_key = environ_key

    def setup(self, app: Any) -> None:
        """Refuse a second SessionPlugin: Bottle would apply only one of two plugins of one name."""
        for other in app.plugins:
            if isinstance(other, SessionPlugin) and other is not self:
                raise bottle.PluginError("this app already has a SessionPlugin")

    def apply(self, callback: Callable[..., Any], route: Any) -> Callable[..., Any]:
        """Wrap ``callback`` if it takes the keyword."""
        if self.keyword not in route.get_callback_args():
            return callback

        @functools.wraps(callback)
        def with_session(*args: Any, **kwargs: Any) -> Any:
            kwargs[self.keyword] = session_of(bottle.request.environ, self.environ_key)
            return callback(*args, **kwargs)

        return with_session
