"""The wsgisession benchmark suite: ``python -m benchmarks [--quick]``.

Measures each store and scenario in-process against the raw driver floor and the
anchors (Beaker, Flask-Session, Django) in one run; see ``python -m benchmarks --help``.
"""
