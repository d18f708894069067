"""Pieces both shop services share: JSON logging, gunicorn settings, Datadog request and client spans."""
