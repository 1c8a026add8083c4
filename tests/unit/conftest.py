"""tests/unit/: builders, formatters and parsers called directly, with no database and no app.

The fixtures that build an app or a database refuse here, so that a test needing one is put in
tests/integration/ (or tests/system/ for PostgreSQL, Redis, gunicorn and Celery): docs/testing.md."""

import pytest


def _refuse(what: str):
    pytest.fail(
        f"tests/unit/ has no {what}: move this test to tests/integration/ (docs/testing.md)", pytrace=False
    )


@pytest.fixture
def make_app():
    _refuse("app or database")


@pytest.fixture
def pg_cluster():
    _refuse("PostgreSQL")
