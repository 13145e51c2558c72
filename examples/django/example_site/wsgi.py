"""The WSGI application: Django wrapped in wsgisession's SessionMiddleware.

wrap() takes the secret from SECRET_KEY, the cookie from SESSION_COOKIE_* and the
store from the WSGISESSION setting; the middleware in MIDDLEWARE then gives Django
``request.session`` from it.
"""

import os

from django.core.wsgi import get_wsgi_application

from wsgisession.integrations.django import wrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")

application = wrap(get_wsgi_application())
