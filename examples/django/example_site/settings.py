"""Settings of the example site: Django's auth, messages and CSRF, all kept in wsgisession."""

import os

SECRET_KEY = os.environ.get("WSGISESSION_EXAMPLE_SECRET", "example-only-secret-change-me-0123456789abcdef")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.messages"]
MIDDLEWARE = [
    "wsgisession.integrations.django.SessionMiddleware",  # in place of django.contrib.sessions'
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "example_site.urls"
DATABASE_FILE = os.environ.get("DJANGO_EXAMPLE_DB", "django-example.db")
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATABASE_FILE}}
CSRF_USE_SESSIONS = True
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_NAME = "session"  # the other examples' name: on one host they share the session

# Any wsgisession.SessionMiddleware keyword; wrap() in wsgi.py reads them.
WSGISESSION = {"store": os.environ.get("WSGISESSION_EXAMPLE_STORE", "sqlite:///wsgisession-example.db")}
