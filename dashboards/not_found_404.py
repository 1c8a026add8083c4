"""The page shown for an unknown address."""

import dash

from dashboards._shell import build_not_found

dash.register_page(__name__, path="/404", title="Not found · Learnstats")


def layout(**_kwargs):
    return build_not_found()
