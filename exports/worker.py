"""Kept for `celery --app exports.worker worker` as documented before issue 20: the worker is
jobs/worker.py (`make worker` runs `celery --app jobs.worker worker -B`)."""

from jobs.worker import celery, dash_app

__all__ = ["celery", "dash_app"]
