"""The classes page (/classes): the classes in the viewer's scope with member and training
counts, each linking to its class page. Global roles see every class, a class manager theirs."""

from __future__ import annotations

from urllib.parse import quote

import dash
from dash import html

from auth.language import N_, ngettext, page_title
from auth.language import gettext as _
from dashboards.components.grids import build_static_table
from data.classes import classes_table
from data.db import get_db
from data.scope import Scope

PAGE = "classes"


def may_list_classes(scope: Scope) -> bool:
    return scope.is_global or bool(scope.classes)


def can_open(scope: Scope, _session, **_) -> bool:
    return may_list_classes(scope)


dash.register_page(
    __name__,
    path="/classes",
    name="Classes",
    title=page_title(N_("Classes")),
    order=20,
    access=can_open,
    nav_label=N_("Classes"),
    nav_access=may_list_classes,
)


def layout(scope, **_query):
    with get_db().session() as s:
        frame = classes_table(s, scope)
    frame["link"] = [f"/class/{quote(c, safe='')}" for c in frame["class_id"]]
    if frame.empty:
        body = html.P(_("No class is in your scope yet."), className="ls-empty", id="classes-empty")
    else:
        body = build_static_table(
            PAGE,
            "list",
            frame,
            [
                ("class", N_("Class")),
                ("members", N_("Members"), "int"),
                ("trainings", N_("Trainings"), "int"),
            ],
            link_column=("class", "link"),
            title=ngettext("%(num)d class", "%(num)d classes", len(frame)),
            filename="classes",
            sheet_name=N_("Classes"),
            empty_sentence=N_("No class matches this search."),
            # "Schedule…": the list sent by email (exports/report_kinds.py "classes").
            schedule={"kind": "classes", "params": {}, "title": _("Classes")},
        )
    return html.Div(
        [
            html.Div(
                [
                    html.H1(_("Classes"), className="h3 mb-0"),
                    html.Div(
                        _("Every class of the platform.")
                        if scope.is_global
                        else _("The classes you manage."),
                        className="text-muted",
                    ),
                ],
                className="mb-3",
            ),
            body,
        ]
    )
