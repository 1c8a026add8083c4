"""Scheduled reports (SPEC §9, issue 18 point 3): the job run with a frozen clock against a real
SMTP server on 127.0.0.1 (aiosmtpd): right file, right recipients, a recipient out of scope
skipped and logged, a missed run caught up once after downtime, pause, send now, the 10 MB
limit (a signed link instead), and two processes sending once."""

from __future__ import annotations

import csv
import io
import re
import socket
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select

import jobs.reports as reports_job
from auth.roles import load_scope
from data.models import ScheduledReport, ScheduledReportRun
from data.reports import Rule, ScheduleError, ask_send_now, save_report, set_paused
from data.scope import Forbidden, global_scope
from exports.opco_logs import OpcoLogFilters, iter_opco_logs_csv
from exports.report_kinds import ReportRun, build_report, report_kind
from jobs.reports import send_due_reports
from tests.conftest import sign_in
from tests.factories import Factory
from tests.opco_world import ACCOUNTS, build_world

PARIS = ZoneInfo("Europe/Paris")
LINK = re.compile(r"http://reports\.example\.org(/exports/files/[A-Za-z0-9_.\-]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted"

    def take(self):
        taken, self.messages = self.messages, []
        return taken


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def app(make_app, smtp):
    controller, _inbox = smtp
    app = make_app(smtp_url=f"smtp://127.0.0.1:{controller.port}", mail_from="stats@example.org")
    with app.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
    return app


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedule(app, owner, kind, params, rule, recipients=(), now="2026-05-03 08:00", title="Weekly logs"):
    with app.server.extensions["learnstats_db"].session() as s:
        report = save_report(
            s,
            load_scope(s, owner),
            report_id=None,
            title=title,
            kind=kind,
            params=params,
            rule=rule,
            recipients=list(recipients),
            now=utc(now),
            base_url="http://reports.example.org",
        )
        s.commit()
        return report.id


def runs(app, report_id):
    with app.server.extensions["learnstats_db"].session() as s:
        rows = s.scalars(
            select(ScheduledReportRun)
            .where(ScheduledReportRun.report_id == report_id)
            .order_by(ScheduledReportRun.id)
        )
        return [(r.trigger, r.recipient_id, r.status, r.rows, r.delivery, r.reason) for r in rows]


def tick(app, moment: str):
    """One look at the schedule with the clock frozen at moment (UTC)."""
    with time_machine.travel(utc(moment), tick=False):
        return send_due_reports(app.server, sleep=lambda _s: None)


def attachment(message):
    [part] = list(message.iter_attachments())
    return part.get_filename(), part.get_payload(decode=True)


def expected_csv(app, scope, query_filters):
    with app.server.extensions["learnstats_db"].session() as s:
        return b"".join(iter_opco_logs_csv(s, scope, query_filters, PARIS))


WEEKLY_MONDAY_8 = Rule("weekly", hour=8, weekday=0)
LEARNER_SESSION = {"query": "session=s-a&granularity=learner-session"}


def test_rep001_weekly_report_right_file_right_recipients_scope_skip_and_catch_up(app, smtp):
    _controller, inbox = smtp
    # Created Sunday 3 May 2026, 10:00 in Paris, by the instructor of s-a, for the statistics
    # manager (sees everything) and the manager of t-man (s-a is not theirs).
    report_id = schedule(app, "inst", "opco-logs", LEARNER_SESSION, WEEKLY_MONDAY_8, ["stat", "tm"])

    # Monday 4 May, 08:00 Paris = 06:00 UTC (summer time).
    assert tick(app, "2026-05-04 05:59") == []
    assert inbox.take() == []
    assert tick(app, "2026-05-04 06:00:20") == [(report_id, "schedule")]
    mails = inbox.take()
    assert sorted(to for to, _m in mails) == [["inst@example.org"], ["stat@example.org"]]
    filters = OpcoLogFilters(session_ids=("s-a",), granularity="learner-session")
    for to, message in mails:
        assert message["Subject"] == "Scheduled report: Weekly logs"
        name, data = attachment(message)
        assert name == "opco-learner-session-s-a-2026-05-04.csv"
        with app.server.extensions["learnstats_db"].session() as s:
            scope = load_scope(s, "inst" if to == ["inst@example.org"] else "stat")
        assert data == expected_csv(app, scope, filters)
        # Ève, Bob, Alice and Dan played in s-a: four rows
        assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))) == 1 + 4
        assert "4 row(s)" in message.get_body(("plain",)).get_content()
    assert runs(app, report_id) == [
        ("schedule", "inst", "sent", 4, "attachment", ""),
        ("schedule", "stat", "sent", 4, "attachment", ""),
        ("schedule", "tm", "skipped", None, "", "tm@example.org may no longer see this report"),
    ]
    # Sent once: the next ticks of that Monday send nothing.
    assert tick(app, "2026-05-04 06:00:50") == []
    assert tick(app, "2026-05-04 18:00") == []
    assert inbox.take() == []

    # Downtime from Monday 4 May evening to Wednesday 20 May: the Mondays 11 and 18 were
    # missed; one catch-up run (the latest occurrence), sent once.
    assert tick(app, "2026-05-20 09:30") == [(report_id, "catch-up")]
    assert sorted(to for to, _m in inbox.take()) == [["inst@example.org"], ["stat@example.org"]]
    assert tick(app, "2026-05-20 09:31") == []
    assert inbox.take() == []
    assert [r[:3] for r in runs(app, report_id)[3:]] == [
        ("catch-up", "inst", "sent"),
        ("catch-up", "stat", "sent"),
        ("catch-up", "tm", "skipped"),
    ]
    with app.server.extensions["learnstats_db"].session() as s:
        # the occurrence handled: Monday 18 May 08:00 Paris
        assert s.get(ScheduledReport, report_id).last_due_at == datetime(2026, 5, 18, 6, 0)


def test_rep002_pause_send_now_and_monthly_last_day(app, smtp):
    _controller, inbox = smtp
    # Monthly on the 31st at 07:00: in June (30 days) on the 30th.
    report_id = schedule(
        app, "stat", "trainings", {"format": "xlsx"}, Rule("monthly", hour=7, day=31), now="2026-06-01 00:00"
    )
    with app.server.extensions["learnstats_db"].session() as s:
        set_paused(s, load_scope(s, "stat"), report_id, True, utc("2026-06-01 00:00"))
        s.commit()
    assert tick(app, "2026-06-30 05:00:10") == []  # passed over while paused
    assert inbox.take() == [] and runs(app, report_id) == []
    with app.server.extensions["learnstats_db"].session() as s:
        assert s.get(ScheduledReport, report_id).last_due_at == datetime(2026, 6, 30, 5, 0)
    with app.server.extensions["learnstats_db"].session() as s:
        set_paused(s, load_scope(s, "stat"), report_id, False, utc("2026-07-15 10:00"))
        s.commit()
    assert tick(app, "2026-07-15 10:00:30") == []  # resumed: June's run is not caught up
    # Send now: at the next tick, even before its day.
    with app.server.extensions["learnstats_db"].session() as s:
        ask_send_now(s, load_scope(s, "stat"), report_id, utc("2026-07-15 10:01"))
        s.commit()
    assert tick(app, "2026-07-15 10:01:30") == [(report_id, "send-now")]
    [(to, message)] = inbox.take()
    assert to == ["stat@example.org"]
    name, data = attachment(message)
    assert name == "trainings.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]][:2] == ["Training", "Learners"]
    assert sorted(row[0].value for row in sheet.iter_rows(min_row=2)) == ["Management", "Sécurité, niveau 1"]
    assert runs(app, report_id) == [("send-now", "stat", "sent", 2, "attachment", "")]
    # 31 July 07:00 Paris = 05:00 UTC
    assert tick(app, "2026-07-31 05:00:05") == [(report_id, "schedule")]
    assert len(inbox.take()) == 1


def test_rep003_over_the_limit_a_signed_link_only_for_its_recipient(app, smtp, monkeypatch):
    _controller, inbox = smtp
    monkeypatch.setattr(reports_job, "ATTACHMENT_LIMIT", 100)  # bytes: every file is "too large"
    report_id = schedule(app, "inst", "opco-logs", {"query": "session=s-a"}, Rule("daily", hour=9), ["stat"])
    assert tick(app, "2026-05-04 07:00:05") == [(report_id, "schedule")]
    mails = dict((to[0], message) for to, message in inbox.take())
    assert set(mails) == {"inst@example.org", "stat@example.org"}
    body = mails["inst@example.org"].get_body(("plain",)).get_content()
    assert list(mails["inst@example.org"].iter_attachments()) == []
    assert "too large to attach" in body and "expires on" in body
    path = LINK.search(body).group(1)
    with time_machine.travel(utc("2026-05-05 12:00"), tick=False):  # the next day: valid
        client = app.server.test_client()
        assert sign_in(client, ACCOUNTS["inst"]).status_code == 302
        got = client.get(path)
        assert got.status_code == 200
        expected = expected_csv(app, load_scope_of(app, "inst"), OpcoLogFilters(session_ids=("s-a",)))
        assert got.get_data() == expected
        other = app.server.test_client()
        assert sign_in(other, ACCOUNTS["stat"]).status_code == 302
        assert other.get(path).status_code == 403  # the instructor's link, not the manager's
    with time_machine.travel(utc("2026-05-12 12:00"), tick=False):  # 8 days later: expired
        again = app.server.test_client()
        assert sign_in(again, ACCOUNTS["inst"]).status_code == 302
        expired = again.get(path)
        assert expired.status_code == 403 and b"expired" in expired.get_data()
    assert [r[4] for r in runs(app, report_id)] == ["link", "link"]


def load_scope_of(app, user_id):
    with app.server.extensions["learnstats_db"].session() as s:
        return load_scope(s, user_id)


def test_rep004_previous_period_and_class_manager_table(app, smtp):
    _controller, inbox = smtp
    # Daily at 06:00 the day before; the connections of s-a on 12 March 2026 are Ève's only.
    params = {"query": "session=s-a", "period": "previous"}
    report_id = schedule(app, "stat", "opco-logs", params, Rule("daily", hour=6), now="2026-03-12 00:00")
    assert tick(app, "2026-03-13 05:00:01") == [(report_id, "schedule")]
    [(_to, message)] = inbox.take()
    _name, data = attachment(message)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ["eve@example.org"]
    assert "It covers 12/03/2026 to 12/03/2026." in message.get_body(("plain",)).get_content()
    # The day after nobody connected: skipped, said why.
    assert tick(app, "2026-03-14 05:00:01") == [(report_id, "schedule")]
    assert inbox.take() == []
    assert runs(app, report_id)[-1][2] == "skipped" and "nothing to send" in runs(app, report_id)[-1][5]


def test_rep005_saving_checks_the_owner_and_the_fields(app):
    with app.server.extensions["learnstats_db"].session() as s:
        cm = load_scope(s, "cm")
        kind = report_kind("opco-logs")
        with pytest.raises(Forbidden):
            kind.check(s, cm, {"query": "session=s-a"})  # a class manager exports no OPCO logs
        with pytest.raises(Forbidden):
            report_kind("training-results").check(s, load_scope(s, "tm"), {"training_id": "t-sec"})
        report_kind("training-results").check(s, load_scope(s, "tm"), {"training_id": "t-man"})
        with pytest.raises(ScheduleError, match="hour"):
            Rule("daily", hour=24).check()
        with pytest.raises(ScheduleError, match="weekday"):
            Rule("weekly", hour=8).check()
        with pytest.raises(ScheduleError, match="recipients"):
            save_report(
                s,
                load_scope(s, "stat"),
                report_id=None,
                title="x",
                kind="trainings",
                params={},
                rule=Rule("daily", hour=8),
                recipients=["nobody"],
                now=utc("2026-05-01 00:00"),
            )


def test_rep006_rule_occurrences_in_the_platform_time_zone():
    weekly = Rule("weekly", hour=8, weekday=0)
    # Monday 30 March 2026 08:00 in Paris is 06:00 UTC (summer time since the 29th)
    assert weekly.latest(utc("2026-04-01 12:00"), PARIS) == utc("2026-03-30 06:00")
    assert weekly.next_after(utc("2026-03-20 12:00"), PARIS) == utc("2026-03-23 07:00")  # winter: UTC+1
    monthly = Rule("monthly", hour=0, day=31)
    assert monthly.next_after(utc("2026-02-01 00:00"), PARIS) == utc("2026-02-27 23:00")  # 28 Feb 00:00 Paris
    assert monthly.previous_period(utc("2026-04-01 05:00"), PARIS) == (date(2026, 3, 1), date(2026, 3, 31))
    assert monthly.previous_period(utc("2026-03-30 22:00"), PARIS) == (date(2026, 2, 1), date(2026, 2, 28))
    assert weekly.previous_period(utc("2026-05-04 06:00"), PARIS) == (date(2026, 4, 27), date(2026, 5, 3))


def test_rep007_two_processes_send_once(app, make_app, smtp, tmp_path):
    """A second app on the same database (another web worker) ticking at the same moment finds
    the run already claimed."""
    _controller, inbox = smtp
    report_id = schedule(app, "stat", "trainings", {}, Rule("daily", hour=9))
    other = make_app(smtp_url=settings_url(app), mail_from="stats@example.org")  # the same database file
    with time_machine.travel(utc("2026-05-04 07:00:01"), tick=False):
        first = send_due_reports(app.server)
        second = send_due_reports(other.server)
    assert (first, second) == ([(report_id, "schedule")], [])
    assert len(inbox.take()) == 1


def settings_url(app):
    from data.config import settings_of

    return settings_of(app.server).smtp_url


def test_rep008_build_report_in_each_language(app):
    with app.server.app_context(), app.server.extensions["learnstats_db"].session() as s:
        run = ReportRun(tz=PARIS, now=utc("2026-05-04 06:00"))
        from data.models import User

        user = s.get(User, "tm")
        data, built = build_report(
            s, "training-results", user, load_scope(s, "tm"), {"training_id": "t-man"}, run, "fr"
        )
        assert built.file_name == "results-t-man.csv" and built.rows == 1
        text = data.decode("utf-8-sig")
        assert text.splitlines()[0].startswith("Apprenant;E-mail;")
        assert "Petit Frank;frank@example.org" in text
        data, built = build_report(
            s, "session-learners", user, global_scope(), {"session_id": "s-a"}, run, "en"
        )
        assert built.rows == 5 and data.decode("utf-8-sig").startswith("Learner,Email,Registered")


def test_rep009_weekly_digest_for_a_training_manager_and_an_instructor(app, smtp):
    """Issue 18 point 5: switched on, the digest goes every Monday at 08:00 with the at-risk
    learners of the trainings managed (tm: t-man) or of the sessions taught (inst: s-a's
    registered learners in t-sec), as of that day (SPEC §9's reasons in words)."""
    from data.reports import DIGEST_KIND, digest_of, switch_digest

    _controller, inbox = smtp
    with app.server.extensions["learnstats_db"].session() as s:
        for user in ("tm", "inst"):
            report = switch_digest(s, load_scope(s, user), True, utc("2026-05-03 10:00"))
            assert (report.kind, report.frequency, report.weekday, report.hour) == (
                DIGEST_KIND,
                "weekly",
                0,
                8,
            )
        with pytest.raises(Forbidden):
            report_kind(DIGEST_KIND).check(s, load_scope(s, "cm"), {})  # not a manager of trainings/sessions
        s.commit()
    assert len(tick(app, "2026-05-04 06:00:10")) == 2
    sheets = {}
    for to, message in inbox.take():
        name, data = attachment(message)
        assert name == "at-risk-digest-2026-05-04.xlsx"
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        sheets[to[0]] = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    # Frank: last activity 2 April (32 days), session s-m ended on 30 April.
    [frank] = sheets["tm@example.org"]
    assert frank[:2] == ["Petit Frank", "Management"]
    assert frank[2] == "inactive for 32 days; session ended on 30/04/2026"
    # s-a's registered learners of t-sec at risk: Bob (last active 5 March) and Chloé (never,
    # enrolled 1 February); Alice passed, Ève is blocked, Dan is not registered to s-a.
    assert [(r[0], r[2]) for r in sheets["inst@example.org"]] == [
        ("Durand Bob", "inactive for 60 days; session ended on 31/03/2026"),
        ("Ézard Chloé", "inactive for 92 days; session ended on 31/03/2026"),
    ]
    with app.server.extensions["learnstats_db"].session() as s:
        switch_digest(s, load_scope(s, "tm"), False, utc("2026-05-05 10:00"))
        s.commit()
        assert digest_of(s, load_scope(s, "tm")) is None
    assert len(tick(app, "2026-05-11 06:00:10")) == 1  # the instructor's only


def test_rep010_compliance_files_as_report_kinds(app):
    """The compliance helpers' kinds (exports/compliance_reports.py, declaration_reports.py) go
    through the same registry: the attendance sheet of s-a for its instructor, refused to the
    manager of t-man; the EDOF file refused to them too."""
    from data.models import User

    run = ReportRun(tz=PARIS, now=utc("2026-05-04 06:00"))
    with app.server.app_context(), app.server.extensions["learnstats_db"].session() as s:
        inst, tm = s.get(User, "inst"), s.get(User, "tm")
        data, built = build_report(
            s, "attendance", inst, load_scope(s, "inst"), {"session_id": "s-a"}, run, "fr"
        )
        assert built.file_name == "emargement_s-a_2026-05-04.xlsx" and data[:2] == b"PK"
        assert report_kind("attendance").own_format and report_kind("qualiopi").own_format
        for kind in ("edof", "attendance"):
            with pytest.raises(Forbidden):
                build_report(
                    s, kind, tm, load_scope(s, "tm"), {"session_id": "s-a", "format": "xlsx"}, run, "fr"
                )


def test_rep011_training_content_and_sessions_tables(app):
    from data.models import User

    run = ReportRun(tz=PARIS, now=utc("2026-05-04 06:00"), period=(date(2026, 3, 1), date(2026, 3, 31)))
    with app.server.app_context(), app.server.extensions["learnstats_db"].session() as s:
        tm = s.get(User, "tm")
        data, built = build_report(
            s, "training-content", tm, load_scope(s, "tm"), {"training_id": "t-man"}, run, "en"
        )
        assert built.rows == 1 and data.decode("utf-8-sig").splitlines()[1].startswith(
            "1,Leadership,Mandatory,"
        )
        data, built = build_report(s, "sessions", tm, load_scope(s, "tm"), {}, run, "en")
        assert (
            built.rows == 1
            and "Management A,Management,01/04/2026 09:00,30/04/2026 18:00,1,1,s-m" in data.decode()
        )
        # the whole list for the statistics manager; "the previous period" (March): s-a only
        stat = s.get(User, "stat")
        _data, built = build_report(s, "sessions", stat, load_scope(s, "stat"), {}, run, "en")
        assert built.rows == 3
        data, built = build_report(
            s, "sessions", stat, load_scope(s, "stat"), {"period": "previous"}, run, "en"
        )
        assert built.rows == 1 and ",s-a" in data.decode()
        with pytest.raises(Forbidden):
            build_report(s, "training-content", tm, load_scope(s, "tm"), {"training_id": "t-sec"}, run, "en")
        with pytest.raises(Forbidden):
            report_kind("sessions").check(s, load_scope(s, "cm"), {})


def test_rep012_classes_list(app):
    """The classes page's list as a report kind: a class manager's class, every class for a
    global role, refused to a training manager (who cannot open the classes page)."""
    from data.models import User

    run = ReportRun(tz=PARIS, now=utc("2026-05-04 06:00"))
    with app.server.app_context(), app.server.extensions["learnstats_db"].session() as s:
        cm, stat, tm = s.get(User, "cm"), s.get(User, "stat"), s.get(User, "tm")
        data, built = build_report(s, "classes", cm, load_scope(s, "cm"), {}, run, "en")
        assert built.file_name == "classes.csv" and built.rows == 1
        assert data.decode("utf-8-sig").splitlines() == ["Class,Members,Trainings", "Groupe Lyon,2,1"]
        data, built = build_report(s, "classes", stat, load_scope(s, "stat"), {"format": "xlsx"}, run, "fr")
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        assert built.rows == 1 and [c.value for c in sheet[1]] == ["Classe", "Membres", "Formations"]
        with pytest.raises(Forbidden):
            report_kind("classes").check(s, load_scope(s, "tm"), {})
        with pytest.raises(Forbidden):
            build_report(s, "classes", tm, load_scope(s, "tm"), {}, run, "en")


def test_rep013_a_learners_trainings(app):
    """The learner page's trainings table as a report kind: Alice's for her class manager;
    refused to the manager of another training, and for an unknown learner (the same answer)."""
    from data.models import User

    run = ReportRun(tz=PARIS, now=utc("2026-05-04 06:00"))
    with app.server.app_context(), app.server.extensions["learnstats_db"].session() as s:
        cm, tm = s.get(User, "cm"), s.get(User, "tm")
        data, built = build_report(
            s, "learner-trainings", cm, load_scope(s, "cm"), {"user_id": "alice"}, run, "en"
        )
        lines = data.decode("utf-8-sig").splitlines()
        assert built.file_name == "results-learner-alice.csv" and built.rows == 1
        assert lines[0] == "Training,Enrolled on,Progress,Score,Status,Time spent (min),Completed on"
        # 10/10 and 6/10: 80 %, passed; 60 + 30 + 60 min in t-sec's modules, finished 30 March.
        assert lines[1].startswith('"Sécurité, niveau 1",') and lines[1].endswith(
            ",100.0,80.0,passed,150,30/03/2026"
        )
        for user_id in ("alice", "nobody"):
            with pytest.raises(Forbidden):
                report_kind("learner-trainings").check(s, load_scope(s, "tm"), {"user_id": user_id})
        with pytest.raises(Forbidden):
            build_report(s, "learner-trainings", tm, load_scope(s, "tm"), {"user_id": "alice"}, run, "en")


def test_rep013_email_off_the_run_log_names_no_setting(make_app, caplog):
    """Issue 21: with LEARNSTATS_SMTP_URL empty a run is logged failed with a sentence a manager
    can act on (ask the administrator), in the recipient's language; the setting's name goes
    to the server's log only."""
    app = make_app(smtp_url="", mail_from="stats@example.org")
    with app.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
        s.commit()
    report_id = schedule(
        app, "tm", "opco-logs", {"query": "granularity=learner-session"}, WEEKLY_MONDAY_8, ["stat"]
    )
    with caplog.at_level("WARNING", logger="learnstats.reports"):
        tick(app, "2026-05-04 06:00")
    logged = runs(app, report_id)
    assert [(r[1], r[2]) for r in logged] == [("tm", "failed"), ("stat", "failed")]
    for row in logged:
        assert "SMTP" not in row[5] and "LEARNSTATS" not in row[5], row
        assert "ask your administrator" in row[5] or "administrateur" in row[5], row
    assert "LEARNSTATS_SMTP_URL" in caplog.text
