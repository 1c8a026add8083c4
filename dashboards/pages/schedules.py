"""The "Scheduled reports" page (/schedules; SPEC §9, issue 18): the signed-in user's scheduled
reports (an admin's: everyone's), each with what it sends, when, to whom, its next run and its
last outcome, and the actions Pause / Resume, Send now, Edit (the shell's schedule dialog) and
Delete; below, the run log: when, which schedule, for whom, rows, sent / skipped / failed and
why. Every signed-in user may open it (a schedule's recipients see the page empty unless they
own one); every action checks on the server that the user owns the schedule or is an admin.

Ids: schedules-list, schedules-runs, schedules-message, schedules-changed, schedules-poll,
{"type": "schedules-action", "action": "pause" | "resume" | "send-now" | "delete", "report"},
{"type": "schedule-edit", "report"} (handled by dashboards/dialogs/schedule.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from auth.guard import current_scope
from auth.hosts import UntrustedHost, link_base_url
from auth.language import N_, page_title
from auth.language import gettext as _
from dashboards.access import everyone
from dashboards.components.grids import build_static_table
from dashboards.dialogs.schedule import WEEKDAYS, may_schedule
from data.config import current_settings
from data.db import get_db
from data.models import User
from data.reports import (
    ask_send_now,
    aware,
    delete_report,
    digest_of,
    managed_report,
    recent_runs,
    recipients_of,
    rule_of,
    set_paused,
    switch_digest,
    visible_reports,
)
from data.scope import Forbidden
from exports.formatting import fmt_datetime
from exports.report_kinds import describe, may_have_digest, parse_params, report_kind

PAGE = "schedules"
POLL_MS = 20_000
STATUS_COLORS = {"sent": "success", "skipped": "warning", "failed": "danger"}
STATUS_WORDS = {"sent": N_("sent"), "skipped": N_("skipped"), "failed": N_("failed")}
TRIGGER_WORDS = {"schedule": N_("on schedule"), "catch-up": N_("catch-up"), "send-now": N_("sent now")}
DELIVERY_WORDS = {"attachment": N_("attachment"), "link": N_("link"), "": ""}


def can_open(scope, session, **_) -> bool:
    return everyone(scope, session)


dash.register_page(
    __name__,
    path="/schedules",
    name="Scheduled reports",
    title=page_title(N_("Scheduled reports")),
    order=80,
    access=can_open,
    nav_label=N_("Scheduled reports"),
    nav_access=may_schedule,
)


def build_digest_card(scope, has_digest: bool) -> html.Div | None:
    """The weekly digest (issue 18 point 5), for training managers and session instructors."""
    if not may_have_digest(scope):
        return None
    return dbc.Card(
        dbc.CardBody(
            [
                dbc.Switch(
                    id="schedules-digest-switch",
                    label=_(
                        "Weekly digest: the at-risk learners of my trainings and sessions, every Monday at 08:00"
                    ),
                    value=has_digest,
                    className="mb-1 fw-semibold",
                ),
                html.Div(
                    _(
                        "Sent to you by email as a spreadsheet (inactive for %(days)s days or more, a failed "
                        "mandatory module, a session ended or ending within 7 days). Switch it off at any time.",
                        days=current_settings().at_risk_days,
                    ),
                    className="small text-muted",
                ),
            ]
        ),
        className="mb-3 ls-digest-card",
        id="schedules-digest",
    )


def layout(scope=None, **_query):
    digest = None
    if scope is not None and may_have_digest(scope):
        with get_db().session() as s:
            digest = build_digest_card(scope, digest_of(s, scope) is not None)
    return html.Div(
        [
            html.H1(_("Scheduled reports"), className="h3 mb-1", id="schedules-title"),
            html.P(
                _(
                    "Reports sent by email on their own. Add one with « Schedule… » beside a download: a "
                    "page's table or the OPCO export."
                ),
                className="text-muted",
            ),
            digest,
            html.Div(id="schedules-message", role="status"),
            dcc.Store(id="schedules-changed"),
            dcc.Interval(id="schedules-poll", interval=POLL_MS),
            dcc.Loading(html.Div(id="schedules-list"), type="circle", delay_show=400),
            html.Div(id="schedules-runs", className="mt-4"),
        ],
        className="ls-schedules",
    )


def when_text(report, tz) -> str:
    hour = f"{report.hour:02d}:00"
    if report.frequency == "daily":
        return _("Every day at %(hour)s", hour=hour)
    if report.frequency == "weekly":
        return _("Every %(weekday)s at %(hour)s", weekday=_(WEEKDAYS[report.weekday or 0]).lower(), hour=hour)
    return _("Every month on day %(day)s at %(hour)s", day=report.day, hour=hour)


def _names(session, ids: list[str]) -> str:
    users = {u.id: u for u in session.query(User).filter(User.id.in_(ids))} if ids else {}
    out = []
    for i in ids:
        u = users.get(i)
        out.append(f"{u.first_name} {u.last_name}".strip() or u.email if u else i)
    return ", ".join(out)


def _action(
    label: str, action: str, report_id: int, color: str = "secondary", kind: str = "schedules-action"
):
    button_id = (
        {"type": kind, "report": report_id}
        if kind == "schedule-edit"
        else {
            "type": kind,
            "action": action,
            "report": report_id,
        }
    )
    return dbc.Button(
        _(label), id=button_id, size="sm", color=color, outline=True, n_clicks=0, className="me-1 mb-1"
    )


def build_schedules_list(session, scope, tz, now) -> html.Div:
    reports = visible_reports(session, scope)
    if not reports:
        return html.P(
            _("No scheduled report yet. Use « Schedule… » beside a download to add one."),
            className="ls-empty",
            id="schedules-empty",
        )
    runs = recent_runs(session, [r.id for r in reports], limit=500)
    last_status: dict[int, list] = {}
    for run in runs:
        last_status.setdefault(run.report_id, []).append(run)
    rows = []
    for report in reports:
        kind_label = ""
        try:
            kind_label = _(report_kind(report.kind).label)
        except ValueError:
            kind_label = report.kind
        detail = describe(session, report.kind, parse_params(report.params))
        next_run = rule_of(report).next_after(max(now, aware(report.last_due_at) or now), tz)
        latest = last_status.get(report.id, [])
        if latest:
            started = latest[0].started_at
            same = [
                r
                for r in latest
                if r.started_at == started or abs((r.started_at - started).total_seconds()) < 120
            ]
            counts = {}
            for r in same:
                counts[r.status] = counts.get(r.status, 0) + 1
            last = html.Span(
                [
                    fmt_datetime(aware(started).astimezone(tz)),
                    " ",
                    *[
                        dbc.Badge(f"{_(STATUS_WORDS[k])} {v}", color=STATUS_COLORS[k], className="me-1")
                        for k, v in sorted(counts.items())
                    ],
                ]
            )
        else:
            last = _("never")
        actions = [
            _action(
                N_("Resume") if report.paused else N_("Pause"),
                "resume" if report.paused else "pause",
                report.id,
            ),
            _action(N_("Send now"), "send-now", report.id, color="primary"),
            _action(N_("Edit"), "edit", report.id, kind="schedule-edit"),
            _action(N_("Delete"), "delete", report.id, color="danger"),
        ]
        owner = session.get(User, report.owner_id)
        rows.append(
            html.Tr(
                [
                    html.Td(
                        **{"data-label": ""},
                        children=[
                            html.Div(report.title, className="fw-semibold"),
                            html.Div(
                                f"{kind_label} — {detail}" if detail else kind_label,
                                className="small text-muted",
                            ),
                            dbc.Badge(_("paused"), color="secondary") if report.paused else None,
                        ],
                    ),
                    html.Td(**{"data-label": _("When")}, children=when_text(report, tz)),
                    html.Td(
                        **{"data-label": _("Recipients")},
                        children=[
                            html.Div(_names(session, recipients_of(report))),
                            html.Div(
                                _(
                                    "owner: %(name)s",
                                    name=f"{owner.first_name} {owner.last_name}".strip() or owner.email,
                                )
                                if owner is not None and scope.is_admin and owner.id != scope.user_id
                                else "",
                                className="small text-muted",
                            ),
                        ],
                    ),
                    html.Td(
                        **{"data-label": _("Next run")},
                        children=_("paused")
                        if report.paused
                        else (fmt_datetime(next_run.astimezone(tz)) if next_run else "–"),
                    ),
                    html.Td(**{"data-label": _("Last run")}, children=last),
                    html.Td(**{"data-label": ""}, children=actions, className="ls-schedule-actions"),
                ],
                id=f"schedules-row-{report.id}",
            )
        )
    header = html.Thead(
        html.Tr(
            [
                html.Th(_("Report")),
                html.Th(_("When")),
                html.Th(_("Recipients")),
                html.Th(_("Next run")),
                html.Th(_("Last run")),
                html.Th(_("Actions")),
            ]
        )
    )
    return html.Div(
        dbc.Table(
            [header, html.Tbody(rows)], hover=True, size="sm", className="align-middle ls-schedules-table"
        ),
        className="table-responsive",
    )


RUN_COLUMNS = [
    ("when", N_("When")),
    ("report", N_("Report")),
    ("recipient", N_("Recipient")),
    ("trigger", N_("Run")),
    ("rows", N_("Rows"), "int"),
    ("status", N_("Status")),
    ("delivery", N_("Sent as")),
    ("reason", N_("Why")),
]


def build_run_log(session, scope, tz) -> html.Div:
    reports = {r.id: r for r in visible_reports(session, scope)}
    runs = recent_runs(session, list(reports), limit=500)
    if not runs:
        return html.P(_("No run yet."), className="ls-empty", id="schedules-no-runs")
    frame = pd.DataFrame(
        [
            {
                "when": aware(r.started_at).astimezone(tz).strftime("%d/%m/%Y %H:%M"),
                "report": reports[r.report_id].title,
                "recipient": r.recipient_email or r.recipient_id,
                "trigger": _(TRIGGER_WORDS.get(r.trigger, r.trigger)),
                "rows": r.rows,
                "status": _(STATUS_WORDS.get(r.status, r.status)),
                "delivery": _(DELIVERY_WORDS.get(r.delivery, r.delivery)) if r.delivery else "",
                "reason": r.reason,
            }
            for r in runs
        ]
    )
    return build_static_table(
        PAGE,
        "runs",
        frame,
        RUN_COLUMNS,
        title=N_("Run log"),
        filename="scheduled-report-runs",
        sheet_name=N_("Run log"),
        empty_sentence=N_("No run matches this search."),
    )


@callback(
    Output("schedules-list", "children"),
    Output("schedules-runs", "children"),
    Input("schedules-poll", "n_intervals"),
    Input("schedules-changed", "data"),
    Input("schedule-saved", "data"),
)
def update_schedules(_tick, _changed, _saved):
    """The user's schedules (an admin's: all) and the run log."""
    scope = current_scope()
    tz = current_settings().tz
    with get_db().session() as s:
        return build_schedules_list(s, scope, tz, datetime.now(UTC)), build_run_log(s, scope, tz)


@callback(
    Output("schedules-changed", "data"),
    Output("schedules-message", "children"),
    Input({"type": "schedules-action", "action": ALL, "report": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def act_on_schedule(_clicks):
    """Pause, resume, send now or delete, for the schedule's owner or an admin (403 otherwise)."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate
    scope = current_scope()
    now = datetime.now(UTC)
    action = trigger.get("action")
    with get_db().session() as s:
        if action == "pause":
            report = set_paused(s, scope, trigger.get("report"), True, now)
            message = _("« %(title)s » is paused.", title=report.title)
        elif action == "resume":
            report = set_paused(s, scope, trigger.get("report"), False, now)
            message = _("« %(title)s » is resumed: it runs again from its next date.", title=report.title)
        elif action == "send-now":
            report = ask_send_now(s, scope, trigger.get("report"), now)
            message = _(
                "« %(title)s » will be sent within a minute; the run log below shows the outcome.",
                title=report.title,
            )
        elif action == "delete":
            report_title = managed_report(s, scope, trigger.get("report")).title
            delete_report(s, scope, trigger.get("report"))
            message = _("« %(title)s » is deleted.", title=report_title)
        else:
            raise PreventUpdate
        s.commit()
    return now.isoformat(), dbc.Alert(message, color="info", className="py-2", dismissable=True)


@callback(
    Output("schedules-changed", "data", allow_duplicate=True),
    Output("schedules-message", "children", allow_duplicate=True),
    Input("schedules-digest-switch", "value"),
    prevent_initial_call=True,
)
def toggle_digest(value):
    """Switch the weekly digest on (a built-in schedule of the user's) or off (deleted)."""
    scope = current_scope()
    if not may_have_digest(scope):
        raise Forbidden()
    now = datetime.now(UTC)
    try:
        base_url = link_base_url()
    except UntrustedHost:
        base_url = ""
    with get_db().session() as s:
        switch_digest(s, scope, bool(value), now, title=_("Weekly digest"), base_url=base_url)
        s.commit()
    message = (
        _("The weekly digest is on: every Monday at 08:00.") if value else _("The weekly digest is off.")
    )
    return now.isoformat(), dbc.Alert(message, color="info", className="py-2", dismissable=True)


__all__ = ["act_on_schedule", "build_run_log", "build_schedules_list", "update_schedules", "when_text"]
