"""Flask on wsgisession: log in, log out, a counter and flash messages.

Run:  python examples/flask/app.py --port 8001   (user "demo", password "demo")
Sessions go to WSGISESSION_EXAMPLE_STORE (default sqlite:///wsgisession-example.db).
"""

from __future__ import annotations

import argparse
import os
from wsgiref.simple_server import make_server

from flask import Flask, flash, get_flashed_messages, redirect, request, session
from markupsafe import escape

from wsgisession.integrations.flask import init_app

STORE = os.environ.get("WSGISESSION_EXAMPLE_STORE", "sqlite:///wsgisession-example.db")
SECRET = os.environ.get("WSGISESSION_EXAMPLE_SECRET", "example-only-secret-change-me-0123456789abcdef")

app = Flask(__name__)
app.secret_key = SECRET


@app.get("/")
def index() -> str:
    session["count"] = session.get("count", 0) + 1
    notes = "".join(f"<p><em>{escape(m)}</em></p>" for m in get_flashed_messages())
    if "user" in session:
        who = (
            f"<p>Logged in as {escape(session['user'])}.</p>"
            '<form method="post" action="/logout"><button>Log out</button></form>'
        )
    else:
        who = (
            '<form method="post" action="/login"><input name="username" value="demo"> '
            '<input name="password" type="password"> <button>Log in</button></form><p>(demo / demo)</p>'
        )
    return f"<h1>Flask + wsgisession</h1>{notes}<p>Visits: {session['count']}</p>{who}"


@app.post("/login")
def login() -> object:
    if request.form.get("username") == "demo" and request.form.get("password") == "demo":
        session.wsgisession.regenerate()  # a new id on login
        session["user"] = "demo"
        session.permanent = True  # stay logged in for PERMANENT_SESSION_LIFETIME
        flash("Welcome, demo.")
    else:
        flash("Wrong username or password.")
    return redirect("/", 303)


@app.post("/logout")
def logout() -> object:
    session.wsgisession.destroy()
    flash("Logged out.")  # starts a new session under a new id
    return redirect("/", 303)


init_app(app, store=STORE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    with make_server(args.host, args.port, app) as server:
        print(f"serving on http://{args.host}:{args.port}/", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
