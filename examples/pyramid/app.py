"""Pyramid on wsgisession: log in, log out, a counter, flash messages and CSRF.

Run:  python examples/pyramid/app.py --port 8003   (user "demo", password "demo")
Settings come from example.ini beside this file; WSGISESSION_EXAMPLE_STORE overrides the store.
"""

from __future__ import annotations

import argparse
import configparser
import html
import os
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response

INI = Path(__file__).with_name("example.ini")


def index(request: Any) -> Response:
    session = request.session
    session["count"] = session.get("count", 0) + 1
    notes = "".join(f"<p><em>{html.escape(m)}</em></p>" for m in session.pop_flash())
    token = f'<input type="hidden" name="csrf_token" value="{session.get_csrf_token()}">'
    if "user" in session:
        who = (
            f"<p>Logged in as {html.escape(session['user'])}.</p>"
            f'<form method="post" action="/logout">{token}<button>Log out</button></form>'
        )
    else:
        who = (
            f'<form method="post" action="/login">{token}<input name="username" value="demo"> '
            '<input name="password" type="password"> <button>Log in</button></form><p>(demo / demo)</p>'
        )
    return Response(f"<h1>Pyramid + wsgisession</h1>{notes}<p>Visits: {session['count']}</p>{who}")


def login(request: Any) -> HTTPSeeOther:
    session = request.session
    if request.POST.get("username") == "demo" and request.POST.get("password") == "demo":
        session.wsgisession.regenerate()  # a new id on login, keeping the data
        session.new_csrf_token()
        session["user"] = "demo"
        session.flash("Welcome, demo.")
    else:
        session.flash("Wrong username or password.")
    return HTTPSeeOther("/")


def logout(request: Any) -> HTTPSeeOther:
    request.session.invalidate()
    request.session.flash("Logged out.")  # starts a new session under a new id
    return HTTPSeeOther("/")


def main(global_config: dict[str, str] | None = None, **settings: str) -> Any:
    """The WSGI application (a PasteDeploy app factory)."""
    with Configurator(settings=settings) as config:
        config.include("wsgisession.integrations.pyramid")  # reads wsgisession.* settings
        config.set_default_csrf_options(require_csrf=True)
        config.add_route("index", "/")
        config.add_route("login", "/login")
        config.add_route("logout", "/logout")
        config.add_view(index, route_name="index", request_method="GET")
        config.add_view(login, route_name="login", request_method="POST")
        config.add_view(logout, route_name="logout", request_method="POST")
    return config.make_wsgi_app()


def settings_from_ini() -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(INI)
    settings = dict(parser["app:main"])
    overrides = {"wsgisession.store": "WSGISESSION_EXAMPLE_STORE", "wsgisession.secret": "WSGISESSION_EXAMPLE_SECRET"}
    for key, variable in overrides.items():
        settings[key] = os.environ.get(variable, settings[key])
    return settings


def serve() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    args = parser.parse_args()
    with make_server(args.host, args.port, main(**settings_from_ini())) as server:
        print(f"serving on http://{args.host}:{args.port}/", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    serve()
