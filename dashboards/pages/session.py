"""One program session (SPEC §5 "Sessions"): its learners' statistics and the OPCO logs export.

Cards: registered learners, learners who played, completed, median time spent, average score;
then one row per learner (data.figures.session_statistics says exactly what each figure is).
The "Export OPCO logs" dialog opens preset to this session.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from auth.guard import current_scope
from auth.language import N_, page_title
from auth.language import gettext as _
from dashboards.components.cards import build_cards, status_label
from dashboards.components.grids import build_static_table
from dashboards.components.session_tables import datetime_column, local_text
from dashboards.components.texts import build_breadcrumb
from dashboards.dialogs.attestations import build_attestation_controls, may_generate
from dashboards.dialogs.compliance import build_compliance_controls
from dashboards.dialogs.edof import build_edof_controls
from dashboards.dialogs.opco import build_opco_export_controls
from data.config import current_settings
from data.db import get_db
from data.figures.days import to_local
from data.figures.population import SessionStatistics
from data.figures.sessions import session_statistics
from data.models import ProgramSession, Training
from data.scope import Forbidden
from exports.formatting import DASH, fmt_date, fmt_datetime, fmt_duration, fmt_int, fmt_pct

PAGE = "session"


def can_open(scope, session, session_id=None, **_) -> bool:
    return (
        bool(session_id)
        and session.get(ProgramSession, session_id) is not None
        and scope.can_view_session(session, session_id)
    )


dash.register_page(
    __name__,
    path_template="/session/<session_id>",
    name="Session",
    title=page_title(N_("Session")),
    order=41,
    access=can_open,
)


def session_dates(program: ProgramSession, tz) -> str:
    """Start → end in the platform time zone, as the interface writes moments ("01/03/2026 09:00",
    "1 mars 2026 09:00" in French: fmt_datetime); "–" for a missing end."""
    start = to_local(program.starts_at, tz)
    end = to_local(program.ends_at, tz)
    if start is None and end is None:
        return _("no dates")
    first = fmt_datetime(start) if start else DASH
    last = fmt_datetime(end) if end else DASH
    return f"{first} → {last}"


def layout(scope, session_id=None, **_query):
    tz = current_settings().tz
    with get_db().session() as s:
        program = s.get(ProgramSession, session_id)
        training = s.get(Training, program.training_id)
    when = session_dates(program, tz)
    return html.Div(
        [
            build_breadcrumb([(_("Sessions"), "/sessions"), (program.name, None)]),
            html.Div(
                [
                    html.Div(
                        [
                            *build_attestation_controls(scope, session_id),
                            *build_opco_export_controls(scope, session_id=session_id),
                            *build_edof_controls(scope, session_id),
                            *build_compliance_controls(scope, session_id),
                        ],
                        className="d-flex gap-2 float-end ls-session-actions",
                    ),
                    html.H1(program.name, className="h3 mb-0", id="session-title"),
                    html.Div(
                        _(
                            "%(training)s · %(when)s · session ID %(session)s",
                            training=training.name,
                            when=when,
                            session=program.id,
                        ),
                        className="text-muted",
                        id="session-facts",
                    ),
                ],
                className="mb-3 ls-page-header",
            ),
            dcc.Store(id="session-id", data=session_id),
            dcc.Loading(html.Div(id="session-body"), type="circle", delay_show=400),
        ]
    )


def build_session_cards(stats: SessionStatistics) -> dbc.Row:
    return build_cards(
        [
            (N_("Registered learners"), fmt_int(stats.registered), N_("registered to the session")),
            (N_("Learners who played"), fmt_int(stats.played), N_("at least one connection in the session")),
            (N_("Completed"), fmt_int(stats.completed), N_("training completed (passed, failed or expired)")),
            (
                N_("Median time spent"),
                fmt_duration(stats.median_time_spent),
                N_("in the session, of those who played"),
            ),
            (N_("Average score"), fmt_pct(stats.average_score), N_("training score")),
        ],
        PAGE,
    )


def build_learners_table(
    stats: SessionStatistics,
    session_id: str,
    documents: bool = False,
    ended: bool = False,
    viewable: Collection[str] = (),
):
    """The learners table; with documents, a column of links to each player's attestation and
    certificat (exports/routes.py makes them with the saved defaults). `ended`: the session is
    over (its empty table says "was", not "yet"). `viewable`: the learners whose page the viewer
    may open (their names are links)."""
    frame = stats.learners.copy()
    if frame.empty:
        sentence = (
            _("Nobody was registered to this session.")
            if ended
            else _("Nobody is registered to this session yet.")
        )
        return html.P(sentence, className="ls-empty", id="session-no-learners")
    frame["learner"] = [
        f"{last} {first}".strip() or email
        for last, first, email in zip(frame["last_name"], frame["first_name"], frame["email"], strict=True)
    ]
    frame["registered_text"] = [_("Yes") if r else _("No") for r in frame["registered"]]
    # Under the name: the email, and "not registered" for someone who played unregistered.
    unregistered = _("not registered")
    frame["learner_detail"] = [
        email if registered else f"{email} · {unregistered}"
        for email, registered in zip(frame["email"], frame["registered"], strict=True)
    ]
    frame["status"] = frame["status"].map(status_label)
    frame["first"] = [local_text(v) for v in frame["first_connection"]]
    frame["last"] = [local_text(v) for v in frame["last_connection"]]
    # Under the status: the day the training was completed (its own column folded, see below).
    frame["status_detail"] = [_("on %(day)s", day=fmt_date(d)) if d else None for d in frame["completed_on"]]
    frame["completed_on"] = [d.isoformat() if d else None for d in frame["completed_on"]]
    # A name opens the learner's page when the viewer may open it (a session instructor may
    # not: then it is plain text).
    frame["learner_link"] = [
        f"/learner/{quote(str(user_id), safe='')}" if user_id in viewable else None
        for user_id in frame["user_id"]
    ]
    # The columns fit 1,024 px and up (issue 21: at 1,024 px it scrolled sideways in its card):
    # the email (and "not registered") is written under the name and the completion day under
    # the status, their own columns hidden on screen but kept in the files (grids "folded");
    # the connection times and the documents' two links wrap onto a second line (the row grows).
    wraps = {"wrapText": True, "autoHeight": True}
    columns = [
        (
            "learner",
            N_("Learner"),
            None,
            {
                "minWidth": 140,
                "cellRendererParams": {"hrefField": "learner_link", "detailField": "learner_detail"},
            },
        ),
        ("email", N_("Email"), None, {"hide": True}),
        ("registered_text", N_("Registered"), None, {"hide": True}),
        ("connections", N_("Connections"), "int"),
        (*datetime_column("first", N_("First connection")), {"minWidth": 100, **wraps}),
        (*datetime_column("last", N_("Last connection")), {"minWidth": 100, **wraps}),
        ("time_spent", N_("Time spent"), "duration"),
        ("progress", N_("Progress"), "pct"),
        ("score", N_("Score"), "score"),
        (
            "status",
            N_("Status"),
            None,
            {
                "minWidth": 104,
                "cellRenderer": "LsLink",
                "cellRendererParams": {"detailField": "status_detail"},
            },
        ),
        ("completed_on", N_("Completed on"), "date", {"hide": True}),
    ]
    if documents:
        prefix = f"/download/attestation/{quote(session_id, safe='')}/"
        frame["documents"] = [
            prefix + quote(str(user_id), safe="") if played else None
            for user_id, played in zip(frame["user_id"], frame["connections"] > 0, strict=True)
        ]
        columns.insert(
            2,  # after the learner and the email: in view without scrolling
            {
                "field": "documents",
                "headerName": _("OPCO documents"),
                "cellRenderer": "LsDocuments",
                "cellRendererParams": {
                    "noExport": True,
                    "labels": {"attestation": _("Attestation"), "certificate": _("Certificat")},
                },
                "sortable": False,
                "minWidth": 110,
                "flex": 1,
                **wraps,
            },
        )
    return build_static_table(
        PAGE,
        "learners",
        frame,
        columns,
        link_column=("learner", "learner_link"),
        title=N_("Learners"),
        filename=f"session-{session_id}-learners",
        sheet_name=N_("Learners"),
        empty_sentence=N_("No learner matches this search."),
        schedule={"kind": "session-learners", "params": {"session_id": session_id}, "title": _("Learners")},
    )


@callback(Output("session-body", "children"), Input("session-id", "data"))
def update_session(session_id):
    """The session's cards and learners table; 403 for a session outside the viewer's scope."""
    scope = current_scope()
    if not isinstance(session_id, str) or not session_id:
        raise Forbidden()
    tz = current_settings().tz
    with get_db().session() as s:
        stats = session_statistics(s, scope, session_id, tz)
        ends_at = s.get(ProgramSession, session_id).ends_at
        viewable = {
            user_id for user_id in stats.learners.get("user_id", []) if scope.can_view_learner(s, user_id)
        }
    ended = ends_at is not None and ends_at < datetime.now(UTC).replace(tzinfo=None)  # stored UTC
    return html.Div(
        [
            build_session_cards(stats),
            html.Div(
                build_learners_table(
                    stats,
                    session_id,
                    documents=may_generate(scope, session_id),
                    ended=ended,
                    viewable=viewable,
                ),
                className="mt-4",
            ),
        ],
        id="session-statistics",
    )
