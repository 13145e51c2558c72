"""Django on wsgisession: log in, log out, a counter and messages, with django.contrib.auth.

Run:  python examples/django/app.py --port 8002   (user "demo", password "demo")
It migrates its SQLite database (DJANGO_EXAMPLE_DB, default django-example.db) and
creates the demo user first. Sessions go to WSGISESSION_EXAMPLE_STORE (default
sqlite:///wsgisession-example.db). The WSGI application is example_site/wsgi.py.
"""

from __future__ import annotations

import argparse
import os
from wsgiref.simple_server import make_server

import django
from django.core.management import call_command

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")


def prepare() -> None:
    """Create the tables and the demo user."""
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User  # noqa: PLC0415 - needs django.setup() first

    if not User.objects.filter(username="demo").exists():
        User.objects.create_user("demo", password="demo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    prepare()
    from example_site.wsgi import application  # noqa: PLC0415 - needs the tables first

    with make_server(args.host, args.port, application) as server:
        print(f"serving on http://{args.host}:{args.port}/", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
