"""Framework integrations: each framework's own session API on top of wsgisession.

Each submodule imports its framework, so import only the one you use:

- :mod:`wsgisession.integrations.django`: ``request.session`` for Django, auth and messages
- :mod:`wsgisession.integrations.flask`: ``flask.session``, ``flash()`` and ``permanent``
- :mod:`wsgisession.integrations.pyramid`: an ``ISession`` factory, flash queues and CSRF
- :mod:`wsgisession.integrations.bottle`: a plugin that passes the session to routes

This package itself imports nothing, so ``import wsgisession`` never pulls in a framework.
"""
