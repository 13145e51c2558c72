"""Views and URLs for the Django integration tests (ROOT_URLCONF of django_settings)."""

from __future__ import annotations

from typing import Any

from django.contrib import auth, messages  # type: ignore[import-untyped]
from django.http import HttpResponse  # type: ignore[import-untyped]
from django.middleware.csrf import get_token  # type: ignore[import-untyped]
from django.urls import path  # type: ignore[import-untyped]


def index(request: Any) -> Any:
    """Count visits; show the user and the pending messages (consuming them)."""
    request.session["n"] = request.session.get("n", 0) + 1
    shown = [str(m) for m in messages.get_messages(request)]
    user = request.user.username if request.user.is_authenticated else "-"
    return HttpResponse(f"n={request.session['n']} user={user} messages={'|'.join(shown)}")


def token(request: Any) -> Any:
    """The CSRF token (kept in the session, CSRF_USE_SESSIONS)."""
    return HttpResponse(get_token(request))


def login(request: Any) -> Any:
    """django.contrib.auth login(), then a message."""
    user = auth.authenticate(request, username=request.POST["username"], password=request.POST["password"])
    if user is None:
        return HttpResponse("bad credentials", status=401)
    auth.login(request, user)
    messages.success(request, f"welcome {user.username}")
    return HttpResponse("ok")


def logout(request: Any) -> Any:
    """django.contrib.auth logout(), then a message in the new session."""
    auth.logout(request)
    messages.info(request, "bye")
    return HttpResponse("ok")


async def alogin(request: Any) -> Any:
    """The async login: aauthenticate() and alogin() use the session's async methods."""
    user = await auth.aauthenticate(request, username=request.POST["username"], password=request.POST["password"])
    await auth.alogin(request, user)
    return HttpResponse("ok")


async def alogout(request: Any) -> Any:
    """The async logout: alogout() calls aflush()."""
    await auth.alogout(request)
    return HttpResponse("ok")


def expiry(request: Any, seconds: int) -> Any:
    """set_expiry(seconds), reporting what the session now says about its expiry."""
    session = request.session
    session["touched"] = True
    session.set_expiry(seconds)
    return HttpResponse(f"{session.get_expiry_age()} {session.get_expire_at_browser_close()}")


def test_cookie(request: Any) -> Any:
    """Set the test cookie on the first visit, report whether it worked on the next."""
    session = request.session
    if session.test_cookie_worked():
        session.delete_test_cookie()
        return HttpResponse("worked")
    session.set_test_cookie()
    return HttpResponse(f"set key={session.session_key is not None}")


def key(request: Any) -> Any:
    """The Django view of the session: key, emptiness."""
    return HttpResponse(f"{request.session.session_key} {request.session.is_empty()}")


urlpatterns = [
    path("", index),
    path("token", token),
    path("login", login),
    path("logout", logout),
    path("alogin", alogin),
    path("alogout", alogout),
    path("expiry/<int:seconds>", expiry),
    path("testcookie", test_cookie),
    path("key", key),
]
