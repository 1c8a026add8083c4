"""/me: "My page" in the navbar of users without a manager role; it opens their learner page."""

from __future__ import annotations

from urllib.parse import quote

import dash
from dash import dcc

from auth.language import N_, page_title
from data.scope import Scope


def can_open(_scope: Scope, _session, **_) -> bool:
    """Every signed-in user has a learner page of their own."""
    return True


dash.register_page(
    __name__,
    path="/me",
    name="My page",
    title=page_title(N_("My page")),
    order=90,
    access=can_open,
    nav_label=N_("My page"),
    nav_access=lambda scope: not scope.is_manager,
)


def layout(scope, **_query):
    return dcc.Location(id="me-redirect", href=f"/learner/{quote(scope.user_id, safe='')}", refresh=True)
