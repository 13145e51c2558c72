"""Bottle on wsgisession: log in, log out, a counter and flash messages.

Run:  python examples/bottle/app.py --port 8004   (user "demo", password "demo")
Sessions go to WSGISESSION_EXAMPLE_STORE (default sqlite:///wsgisession-example.db).
"""

from __future__ import annotations

import argparse
import html
import os
from wsgiref.simple_server import make_server

import bottle

from wsgisession import Session, SessionMiddleware
from wsgisession.integrations.bottle import SessionPlugin

STORE = os.environ.get("WSGISESSION_EXAMPLE_STORE", "sqlite:///wsgisession-example.db")
SECRET = os.environ.get("WSGISESSION_EXAMPLE_SECRET", "example-only-secret-change-me-0123456789abcdef")

app = bottle.Bottle()
app.install(SessionPlugin())  # routes with a `session` parameter get the session


def flash(session: Session, message: str) -> None:
    session["flashes"] = [*session.get("flashes", []), message]


@app.get("/")
def index(session: Session) -> str:
    session["count"] = session.get("count", 0) + 1
    notes = "".join(f"<p><em>{html.escape(m)}</em></p>" for m in session.pop("flashes", []))
    if "user" in session:
        who = (
            f"<p>Logged in as {html.escape(session['user'])}.</p>"
            '<form method="post" action="/logout"><button>Log out</button></form>'
        )
    else:
        who = (
            '<form method="post" action="/login"><input name="username" value="demo"> '
            '<input name="password" type="password"> <button>Log in</button></form><p>(demo / demo)</p>'
        )
    return f"<h1>Bottle + wsgisession</h1>{notes}<p>Visits: {session['count']}</p>{who}"


@app.post("/login")
def login(session: Session) -> None:
    form = bottle.request.forms
    if form.get("username") == "demo" and form.get("password") == "demo":
        session.regenerate()  # a new id on login
        session["user"] = "demo"
        flash(session, "Welcome, demo.")
    else:
        flash(session, "Wrong username or password.")
    bottle.redirect("/", 303)


@app.post("/logout")
def logout() -> None:
    session = bottle.request.environ["wsgisession"]  # the plain way, without the plugin
    session.destroy()
    flash(session, "Logged out.")  # starts a new session under a new id
    bottle.redirect("/", 303)


application = SessionMiddleware(app, secret=SECRET, store=STORE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8004)
    args = parser.parse_args()
    with make_server(args.host, args.port, application) as server:
        print(f"serving on http://{args.host}:{args.port}/", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
