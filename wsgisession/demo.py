"""The demo application served by ``wsgisession demo``: a visit counter, login and
logout, a cart, and a "remember me" box, on whatever store the command names."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from .session import Session

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["demo_app"]

REMEMBER_ME = 30 * 86_400

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wsgisession demo</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>wsgisession demo</h1>
<p>You have visited this page <strong id="count">{count}</strong> time(s) in this session.</p>
<p id="user">{user}</p>
{login}
<h2>Cart</h2>
<ul id="cart">{cart}</ul>
<form method="post" action="/cart"><input name="item" placeholder="an item">
<button>Add to cart</button></form>
<p><small>Session id (first 8 characters): <code id="sid">{sid}</code>, new: {new}</small></p>
</body></html>
"""

_LOGIN = """<form method="post" action="/login"><input name="user" placeholder="your name">
<label><input type="checkbox" name="remember" value="1"> remember me for 30 days</label>
<button>Log in</button></form>"""
_LOGOUT = """<form method="post" action="/logout"><button>Log out</button></form>"""


def demo_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Serve the demo: GET / shows the page; POST /login, /logout and /cart act and redirect."""
    session: Session = environ["wsgisession"]
    if environ["REQUEST_METHOD"] == "POST":
        return _act(environ, session, start_response)
    if environ.get("PATH_INFO", "/") != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    session["visits"] = session.get("visits", 0) + 1
    user = session.get("user")
    page = _PAGE.format(
        count=session["visits"],
        user=f"Logged in as {html.escape(user)}." if user else "Not logged in.",
        login=_LOGOUT if user else _LOGIN,
        cart="".join(f"<li>{html.escape(item)}</li>" for item in session.get("cart", [])),
        sid=html.escape(session.id[:8]),
        new=session.is_new,
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [page.encode("utf-8")]


def _act(environ: WSGIEnvironment, session: Session, start_response: StartResponse) -> Iterable[bytes]:
    form = _form(environ)
    path = environ.get("PATH_INFO", "/")
    if path == "/login" and form.get("user"):
        session.regenerate()  # a new id on login: an id planted before is worthless after
        session["user"] = form["user"][:100]
        session.max_age = REMEMBER_ME if form.get("remember") else None
    elif path == "/logout":
        session.destroy()
    elif path == "/cart" and form.get("item"):
        session.setdefault("cart", []).append(form["item"][:100])
    start_response("303 See Other", [("Location", "/"), ("Content-Type", "text/plain")])
    return [b"see /"]


def _form(environ: WSGIEnvironment) -> dict[str, str]:
    try:
        length = max(0, min(int(environ.get("CONTENT_LENGTH") or 0), 65_536))
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length).decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body).items()}
