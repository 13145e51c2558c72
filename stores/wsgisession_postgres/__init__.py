"""Session store for wsgisession (work in progress)."""
