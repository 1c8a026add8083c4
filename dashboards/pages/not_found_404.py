"""The page shown for an unknown address."""

import dash

from auth.language import N_, page_title
from dashboards.access import build_not_found, everyone

dash.register_page(__name__, path="/404", title=page_title(N_("Not found")), access=everyone)


def layout(**_kwargs):
    return build_not_found()
