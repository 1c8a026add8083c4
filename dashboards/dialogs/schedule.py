"""The "Schedule…" dialog (SPEC §9 "Scheduled reports"): send a download by email on a calendar.

Every download that a report kind of exports/report_kinds.py can rebuild has a "Schedule…"
button beside it (`build_schedule_button(page, table, kind, params)`: the button and a store
holding what to send); the OPCO dialog has one for its current filters and granularity. The
dialog itself is in the page shell (one per page), and the Scheduled reports page opens it to
edit a schedule. create_app calls `register_schedule_dialog_callbacks(app)` once.

Every callback checks on the server: opening for a new schedule asks the kind whether the
signed-in user may download the report (a forged kind or id answers 403); opening for an edit
and saving need the schedule's owner or an admin; a saved schedule is checked again in its
owner's scope.

Component ids: {"type": "schedule-open", "page", "table"} (buttons), {"type": "schedule-spec",
"page", "table"} (their stores), {"type": "schedule-edit", "report"} (the page's Edit buttons),
schedule-dialog, schedule-report-id, schedule-current-spec, schedule-title, schedule-what,
schedule-frequency, schedule-weekday, schedule-day, schedule-hour, schedule-when-row,
schedule-period, schedule-period-row, schedule-format, schedule-format-row,
schedule-recipients, schedule-save, schedule-message, schedule-saved.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from auth.guard import current_scope
from auth.hosts import UntrustedHost, link_base_url
from auth.language import N_
from auth.language import gettext as _
from auth.roles import load_scope
from dashboards.components.texts import dropdown
from data.db import get_db
from data.errors import LearnstatsError
from data.models import User
from data.reports import Rule, managed_report, recipients_of, save_report, user_choices
from data.scope import Forbidden, Scope
from exports.report_kinds import FORMATS, ReportKindError, parse_params, report_kind

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
FREQUENCY_OPTIONS = [
    {"label": N_("Every day"), "value": "daily"},
    {"label": N_("Every week"), "value": "weekly"},
    {"label": N_("Every month"), "value": "monthly"},
]
HIDDEN = {"display": "none"}


def may_schedule(scope: Scope | None) -> bool:
    """Anyone who can download a page's table: every user but a learner alone."""
    return scope is not None and not scope.is_learner_only


def build_schedule_button(page: str, table: str, kind: str, params: dict, title: str = "") -> html.Span:
    """The "Schedule…" button beside a download, and the store of what it would send."""
    return html.Span(
        [
            dbc.Button(
                _("Schedule…"),
                id={"type": "schedule-open", "page": page, "table": table},
                color="secondary",
                outline=True,
                size="sm",
                n_clicks=0,
                className="ls-schedule-button",
            ),
            dcc.Store(
                id={"type": "schedule-spec", "page": page, "table": table},
                data={"kind": kind, "params": params, "title": title},
            ),
        ],
        className="ls-schedule-action",
    )


def _translated(options):
    return [{**o, "label": _(o["label"])} for o in options]


def _row(
    label: str, control, row_id: str | None = None, help_text: str | None = None, style=None
) -> html.Div:
    children = [dbc.Label(_(label), className="fw-semibold mb-1"), control]
    if help_text:
        children.append(html.Div(_(help_text), className="form-text"))
    props = {"id": row_id} if row_id else {}
    return html.Div(children, className="mb-3", style=style or {}, **props)


def build_schedule_dialog() -> html.Div:
    hours = [{"label": f"{h:02d}:00", "value": h} for h in range(24)]
    days = [{"label": str(d), "value": d} for d in range(1, 32)]
    body = dbc.ModalBody(
        [
            html.P(id="schedule-what", className="ls-schedule-what text-muted mb-3"),
            _row(N_("Name"), dbc.Input(id="schedule-title", maxLength=200, type="text")),
            _row(
                N_("How often"),
                dbc.RadioItems(
                    id="schedule-frequency",
                    options=_translated(FREQUENCY_OPTIONS),
                    value="weekly",
                    inline=True,
                ),
            ),
            html.Div(
                [
                    dbc.Col(
                        _row(
                            N_("Weekday"),
                            dropdown(
                                id="schedule-weekday",
                                options=[{"label": _(d), "value": i} for i, d in enumerate(WEEKDAYS)],
                                value=0,
                                clearable=False,
                            ),
                            row_id="schedule-weekday-row",
                        ),
                        xs=12,
                        md=4,
                    ),
                    dbc.Col(
                        _row(
                            N_("Day of the month"),
                            dropdown(id="schedule-day", options=days, value=1, clearable=False),
                            row_id="schedule-day-row",
                            help_text=N_("29, 30 or 31: the last day in shorter months."),
                        ),
                        xs=12,
                        md=4,
                    ),
                    dbc.Col(
                        _row(
                            N_("Hour"),
                            dropdown(id="schedule-hour", options=hours, value=8, clearable=False),
                            help_text=N_("In the platform's time zone."),
                        ),
                        xs=12,
                        md=4,
                    ),
                ],
                className="row",
                id="schedule-when-row",
            ),
            _row(
                N_("Period"),
                dbc.Checklist(
                    id="schedule-period",
                    options=[
                        {"label": _("Each run covers the previous day, week or month"), "value": "previous"}
                    ],
                    value=[],
                ),
                row_id="schedule-period-row",
                help_text=N_("Otherwise the export's own dates are kept."),
            ),
            _row(
                N_("Format"),
                dbc.RadioItems(
                    id="schedule-format",
                    options=[{"label": "CSV", "value": "csv"}, {"label": "XLSX", "value": "xlsx"}],
                    value="csv",
                    inline=True,
                ),
                row_id="schedule-format-row",
            ),
            _row(
                N_("Recipients"),
                dropdown(id="schedule-recipients", multi=True, placeholder=_("Type a name to add someone")),
                help_text=N_(
                    "You receive it too. Each recipient gets the file as they may see it; someone who may "
                    "not see it is skipped, and the run log says so."
                ),
            ),
        ]
    )
    footer = dbc.ModalFooter(
        [
            html.Div(id="schedule-message", className="w-100", role="status"),
            dbc.Button(_("Save"), id="schedule-save", color="primary", n_clicks=0),
        ]
    )
    return html.Div(
        [
            dcc.Store(id="schedule-report-id"),
            dcc.Store(id="schedule-current-spec"),
            dcc.Store(id="schedule-saved"),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle(_("Schedule a report"))), body, footer],
                id="schedule-dialog",
                is_open=False,
                size="lg",
                scrollable=True,
                className="ls-schedule-dialog",
            ),
        ]
    )


# -- callback logic (plain functions, tested without a browser) -------------------------------


def _what(kind_name: str, params: dict) -> str:
    from exports.report_kinds import describe

    kind = report_kind(kind_name)
    with get_db().session() as s:
        detail = describe(s, kind_name, params)
    return f"{_(kind.label)} — {detail}" if detail else _(kind.label)


def _user_options(users: list[User]) -> list[dict]:
    return [
        {"label": f"{(u.first_name + ' ' + u.last_name).strip() or u.email} ({u.email})", "value": u.id}
        for u in users
    ]


def open_schedule_dialog(open_clicks, edit_clicks, specs):
    """A "Schedule…" button (a new schedule of that download) or an Edit button of the page."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate
    scope = current_scope()
    with get_db().session() as s:
        if trigger.get("type") == "schedule-edit":
            report = managed_report(s, scope, trigger.get("report"))
            spec = {"kind": report.kind, "params": parse_params(report.params), "title": report.title}
            values = {
                "id": report.id,
                "title": report.title,
                "frequency": report.frequency,
                "weekday": report.weekday if report.weekday is not None else 0,
                "day": report.day or 1,
                "hour": report.hour,
                "recipients": [r for r in recipients_of(report) if r != report.owner_id],
            }
        else:
            if not may_schedule(scope):
                raise Forbidden()
            spec = _spec_of(trigger, specs)
            try:
                kind = report_kind(spec["kind"])
                kind.check(s, scope, spec["params"])  # Forbidden: 403
            except ReportKindError:
                raise Forbidden() from None  # a kind or parameters no button sends
            values = {
                "id": None,
                "title": spec.get("title") or _(kind.label),
                "frequency": "weekly",
                "weekday": 0,
                "day": 1,
                "hour": 8,
                "recipients": [],
            }
        options = _user_options(user_choices(s, None, include=values["recipients"]))
    kind = report_kind(spec["kind"])
    params = spec["params"]
    period = ["previous"] if params.get("period") == "previous" else []
    return (
        True,
        values["id"],
        {"kind": spec["kind"], "params": params},
        values["title"],
        _what(spec["kind"], params),
        values["frequency"],
        values["weekday"],
        values["day"],
        values["hour"],
        period,
        {} if kind.dated else HIDDEN,
        params.get("format", "csv") if params.get("format") in FORMATS else "csv",
        HIDDEN if kind.own_format else {},
        options,
        values["recipients"],
        None,
    )


def _spec_of(trigger: dict, specs) -> dict:
    """The spec store beside the button clicked (the same page and table)."""
    for item in ctx.states_list[0] if ctx.states_list else []:
        sid = item.get("id") or {}
        data = item.get("value")
        if (sid.get("page"), sid.get("table")) != (trigger.get("page"), trigger.get("table")):
            continue
        if (
            isinstance(data, dict)
            and isinstance(data.get("kind"), str)
            and isinstance(data.get("params"), dict)
        ):
            return data
    raise Forbidden()


def show_calendar_fields(frequency):
    """The weekday for a weekly schedule, the day for a monthly one."""
    return (
        {} if frequency == "weekly" else HIDDEN,
        {} if frequency == "monthly" else HIDDEN,
    )


def search_recipients(search, chosen):
    scope = current_scope()
    if not may_schedule(scope):
        raise Forbidden()
    with get_db().session() as s:
        return _user_options(user_choices(s, search, include=[str(c) for c in chosen or []]))


def save_schedule(n_clicks, report_id, spec, title, frequency, weekday, day, hour, period, fmt, recipients):
    """Check and save: (message, dialog open, saved marker)."""
    if not n_clicks:
        raise PreventUpdate
    scope = current_scope()
    if spec is None:
        raise PreventUpdate  # the dialog was not opened for a report
    if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict):
        raise Forbidden()
    try:
        kind = report_kind(str(spec.get("kind")))
    except ReportKindError:
        raise Forbidden() from None
    params = dict(spec["params"])
    if kind.dated:
        params.pop("period", None)
        if "previous" in (period or []):
            params["period"] = "previous"
    if not kind.own_format:
        params["format"] = fmt if fmt in FORMATS else "csv"
    rule = Rule(
        str(frequency),
        int(hour) if isinstance(hour, int) else -1,
        weekday if frequency == "weekly" else None,
        day if frequency == "monthly" else None,
    )
    now = datetime.now(UTC)
    try:
        base_url = link_base_url()
    except UntrustedHost:
        base_url = ""
    try:
        with get_db().session() as s:
            if report_id is None:
                if not may_schedule(scope):
                    raise Forbidden()
                owner_scope = scope
            else:
                owner_scope = load_scope(s, managed_report(s, scope, report_id).owner_id)
            kind.check(s, owner_scope, params)  # the owner must be able to download it
            save_report(
                s,
                scope,
                report_id=report_id,
                title=str(title or ""),
                kind=kind.name,
                params=params,
                rule=rule,
                recipients=[str(r) for r in recipients or []],
                now=now,
                base_url=base_url,
            )
            s.commit()
    except Forbidden:
        raise
    except (LearnstatsError, ValueError) as error:
        return (
            dbc.Alert(_("Not saved: %(reason)s.", reason=error), color="warning", className="py-2 mb-0"),
            True,
            no_update,
        )
    message = dbc.Alert(
        [
            _("Saved. "),
            html.A(_("See your scheduled reports"), href="/schedules", className="alert-link"),
        ],
        color="success",
        className="py-2 mb-0",
        id="schedule-saved-message",
    )
    return message, True, now.isoformat()


def register_schedule_dialog_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output("schedule-dialog", "is_open", allow_duplicate=True),
        Output("schedule-report-id", "data"),
        Output("schedule-current-spec", "data"),
        Output("schedule-title", "value"),
        Output("schedule-what", "children"),
        Output("schedule-frequency", "value"),
        Output("schedule-weekday", "value"),
        Output("schedule-day", "value"),
        Output("schedule-hour", "value"),
        Output("schedule-period", "value"),
        Output("schedule-period-row", "style"),
        Output("schedule-format", "value"),
        Output("schedule-format-row", "style"),
        Output("schedule-recipients", "options"),
        Output("schedule-recipients", "value"),
        Output("schedule-message", "children", allow_duplicate=True),
        Input({"type": "schedule-open", "page": ALL, "table": ALL}, "n_clicks"),
        Input({"type": "schedule-edit", "report": ALL}, "n_clicks"),
        State({"type": "schedule-spec", "page": ALL, "table": ALL}, "data"),
        prevent_initial_call=True,
    )(open_schedule_dialog)
    app.callback(
        Output("schedule-weekday-row", "style"),
        Output("schedule-day-row", "style"),
        Input("schedule-frequency", "value"),
    )(show_calendar_fields)
    app.callback(
        Output("schedule-recipients", "options", allow_duplicate=True),
        Input("schedule-recipients", "search_value"),
        State("schedule-recipients", "value"),
        prevent_initial_call=True,
    )(search_recipients)
    app.callback(
        Output("schedule-message", "children", allow_duplicate=True),
        Output("schedule-dialog", "is_open", allow_duplicate=True),
        Output("schedule-saved", "data"),
        Input("schedule-save", "n_clicks"),
        State("schedule-report-id", "data"),
        State("schedule-current-spec", "data"),
        State("schedule-title", "value"),
        State("schedule-frequency", "value"),
        State("schedule-weekday", "value"),
        State("schedule-day", "value"),
        State("schedule-hour", "value"),
        State("schedule-period", "value"),
        State("schedule-format", "value"),
        State("schedule-recipients", "value"),
        prevent_initial_call=True,
    )(save_schedule)


__all__ = [
    "build_schedule_button",
    "build_schedule_dialog",
    "may_schedule",
    "open_schedule_dialog",
    "register_schedule_dialog_callbacks",
    "save_schedule",
    "search_recipients",
    "show_calendar_fields",
]
