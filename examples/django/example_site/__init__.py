"""A one-page Django site on wsgisession (see ../app.py)."""
