"""Views of the example site: a counter, messages, and django.contrib.auth's login and logout."""

from django.contrib import auth, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST


@require_GET
def index(request):
    request.session["count"] = request.session.get("count", 0) + 1
    notes = "".join(f"<p><em>{escape(m)}</em></p>" for m in messages.get_messages(request))
    token = f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
    if request.user.is_authenticated:
        who = (
            f"<p>Logged in as {escape(request.user.username)}.</p>"
            f'<form method="post" action="/logout">{token}<button>Log out</button></form>'
        )
    else:
        who = (
            f'<form method="post" action="/login">{token}<input name="username" value="demo"> '
            '<input name="password" type="password"> <button>Log in</button></form><p>(demo / demo)</p>'
        )
    return HttpResponse(f"<h1>Django + wsgisession</h1>{notes}<p>Visits: {request.session['count']}</p>{who}")


@require_POST
def login(request):
    user = auth.authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
    if user is None:
        messages.error(request, "Wrong username or password.")
    else:
        auth.login(request, user)  # cycle_key(): a new session id
        messages.success(request, f"Welcome, {user.username}.")
    return HttpResponseRedirect("/")


@require_POST
def logout(request):
    auth.logout(request)  # flush(): the session is destroyed
    messages.info(request, "Logged out.")  # in a new session under a new id
    return HttpResponseRedirect("/")
