"""Integrations with other tools, each behind its own extra (``redis``, ``celery``)."""
