"""Receive by email (issue 5 point 5): the job run as a function against a real SMTP server on
127.0.0.1 (aiosmtpd), the emailed link, and links that must be refused."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import time_machine
from aiosmtpd.controller import Controller
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from auth.roles import load_scope
from data.config import settings_of
from data.scope import Scope
from exports.opco_request import parse_opco_query
from exports.stored import LINK_SALT, sign_download
from jobs.mail import mail_problem, parse_smtp_url
from jobs.opco_email import OpcoEmailJob, new_job_id, read_job, run_opco_email_job, sign_job
from tests.conftest import sign_in
from tests.factories import Factory
from tests.opco_world import ACCOUNTS, build_world

LINK = re.compile(r"http://testserver(/exports/opco-logs/[A-Za-z0-9_.\-]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


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
def world(make_app, factory_for, smtp):
    controller, _inbox = smtp
    app = make_app(smtp_url=f"smtp://127.0.0.1:{controller.port}", mail_from="stats@example.org")
    factory_for(app)
    return app


@pytest.fixture
def factory_for():
    def build(app):
        with app.server.extensions["learnstats_db"].session() as s:
            build_world(Factory(s))

    return build


def make_job(app, user_id, query="session=s-a", base_url="http://testserver") -> OpcoEmailJob:
    db = app.server.extensions["learnstats_db"]
    with db.session() as s:
        scope = load_scope(s, user_id)
    return OpcoEmailJob(
        job_id=new_job_id(),
        user_id=user_id,
        email=ACCOUNTS.get(user_id, f"{user_id}@example.org"),
        name="Ines Prof",
        scope=scope,
        request=parse_opco_query(query),
        base_url=base_url,
    )


def stored_files(app):
    directory = settings_of(app.server).instance_path / "exports"
    return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.exists() else []


def test_mail001_the_mail_arrives_and_its_link_downloads_the_same_bytes(world, smtp):
    _controller, inbox = smtp
    states = []
    job = make_job(world, "inst", "session=s-a&delimiter=%3B")
    final = run_opco_email_job(world.server, job, on_state=states.append)
    assert final["state"] == "sent", final
    assert [s["state"] for s in states] == ["building", "sending", "sent"]
    assert "attempt 1 of 3" in states[1]["message"]
    assert final["message"].startswith("Sent to inst@example.org. The link in the email works until ")

    [(mail_from, recipients, content)] = inbox.messages
    assert (mail_from, recipients) == ("stats@example.org", ["inst@example.org"])
    message = message_from_bytes(content, policy=policy.default)
    assert message["Subject"] == "Your OPCO logs export is ready"
    body = message.get_content()
    assert "Hello Ines Prof," in body and "expires on" in body
    path = LINK.search(body).group(1)
    [stored] = stored_files(world)
    assert stored.endswith(".csv")

    client = world.server.test_client()
    assert sign_in(client, ACCOUNTS["inst"]).status_code == 302
    emailed = client.get(path)
    assert emailed.status_code == 200, emailed.get_data(as_text=True)
    assert emailed.headers["Content-Disposition"].startswith("attachment; filename=opco-logs-s-a-")
    now = client.get("/download/opco-logs?session=s-a&delimiter=%3B")
    assert emailed.headers["Content-Type"] == now.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert emailed.get_data() == now.get_data()
    assert emailed.get_data().startswith(b"\xef\xbb\xbfLast name;First name;Email;")


def test_mail010_the_email_is_in_the_askers_language(world, smtp):
    """Issue 12 point 1: a French user gets a French email (the language travels in the job)."""
    _controller, inbox = smtp
    job = make_job(world, "inst", "session=s-a")
    job = OpcoEmailJob(**{**job.__dict__, "language": "fr"})
    assert read_job("k" * 32, sign_job("k" * 32, job)).language == "fr"
    states = []
    final = run_opco_email_job(world.server, job, on_state=states.append)
    assert final["state"] == "sent", final
    # The job's states too (shown in the dialog).
    assert states[0]["message"] == "Construction du fichier…"
    assert final["message"].startswith("Envoyé à inst@example.org.")
    [(_from, _to, content)] = inbox.messages
    message = message_from_bytes(content, policy=policy.default)
    assert message["Subject"] == "Votre export des logs OPCO est prêt"
    body = message.get_content()
    assert body.startswith("Bonjour Ines Prof,") and "expire le " in body and LINK.search(body)


def test_mail002_xlsx_by_email(world, smtp):
    _controller, inbox = smtp
    final = run_opco_email_job(world.server, make_job(world, "stat", "format=xlsx&to=2026-12-31"))
    assert final["state"] == "sent"
    assert final["file"].endswith(".xlsx")
    path = LINK.search(message_from_bytes(inbox.messages[0][2], policy=policy.default).get_content()).group(1)
    client = world.server.test_client()
    sign_in(client, ACCOUNTS["stat"])
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.get_data()[:2] == b"PK"
    # The same bytes as Download now, even an hour later (no clock in the file).
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1)):
        now = client.get("/download/opco-logs?format=xlsx&to=2026-12-31")
    assert now.status_code == 200
    assert response.get_data() == now.get_data()


def test_mail003_tampered_expired_and_other_users_links_are_refused(world, smtp):
    _controller, inbox = smtp
    run_opco_email_job(world.server, make_job(world, "inst"))
    path = LINK.search(message_from_bytes(inbox.messages[0][2], policy=policy.default).get_content()).group(1)
    token = path.rsplit("/", 1)[1]
    secret = settings_of(world.server).secret_key

    other = world.server.test_client()
    sign_in(other, ACCOUNTS["stat"])
    refused = other.get(path)
    assert refused.status_code == 403
    assert "sent to another user" in refused.get_data(as_text=True)

    owner = world.server.test_client()
    sign_in(owner, ACCOUNTS["inst"])
    assert owner.get(path).status_code == 200
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    tampered = owner.get(f"/exports/opco-logs/{flipped}")
    assert tampered.status_code == 403
    assert "not valid" in tampered.get_data(as_text=True)
    # A link signed for inst with another file name, but with a wrong key: refused too.
    forged = URLSafeTimedSerializer("not-the-secret", salt=LINK_SALT).dumps(
        {"u": "inst", "f": "0" * 32 + ".csv", "n": "x.csv"}
    )
    assert owner.get(f"/exports/opco-logs/{forged}").status_code == 403

    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 8 * 24 * 3600

    stored = stored_files(world)[0]
    old = URLSafeTimedSerializer(secret, salt=LINK_SALT, signer=EightDaysAgo).dumps(
        {"u": "inst", "f": stored, "n": "old.csv"}
    )
    expired = owner.get(f"/exports/opco-logs/{old}")
    assert expired.status_code == 403
    assert "expired" in expired.get_data(as_text=True)

    class SixDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 6 * 24 * 3600

    recent = URLSafeTimedSerializer(secret, salt=LINK_SALT, signer=SixDaysAgo).dumps(
        {"u": "inst", "f": stored, "n": "recent.csv"}
    )
    assert owner.get(f"/exports/opco-logs/{recent}").status_code == 200

    # A valid link to a file that was removed: 410 with a sentence.
    gone = sign_download(secret, "inst", "f" * 32 + ".csv", "gone.csv")
    removed = owner.get(f"/exports/opco-logs/{gone}")
    assert removed.status_code == 410 and "no longer available" in removed.get_data(as_text=True)


def test_mail004_anonymous_link_click_goes_through_sign_in(world, smtp):
    _controller, inbox = smtp
    run_opco_email_job(world.server, make_job(world, "inst"))
    path = LINK.search(message_from_bytes(inbox.messages[0][2], policy=policy.default).get_content()).group(1)
    client = world.server.test_client()
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert sign_in(client, ACCOUNTS["inst"]).status_code == 302
    assert client.get(path).status_code == 200


def test_mail005_a_dead_mail_server_is_retried_then_reported(make_app, factory_for):
    dead = free_port()  # nothing listens there
    app = make_app(smtp_url=f"smtp://127.0.0.1:{dead}")
    factory_for(app)
    states, pauses = [], []
    final = run_opco_email_job(
        app.server, make_job(app, "inst"), on_state=states.append, backoff=0.5, sleep=pauses.append
    )
    assert [s["state"] for s in states] == ["building", "sending", "sending", "sending", "failed"]
    assert [s.get("attempt") for s in states[1:4]] == [1, 2, 3]
    assert "previous attempt failed: the mail server refused the connection" in states[2]["message"]
    assert pauses == [0.5, 1.0]  # backoff doubles between attempts
    assert final["state"] == "failed"
    assert final["message"] == (
        "Failed: the email could not be sent after 3 attempts: the mail server refused the connection."
    )
    assert stored_files(app) == []  # nobody could download it: not kept


def test_mail006_refused_or_impossible_exports_fail_with_the_reason(world, smtp):
    _controller, inbox = smtp
    learner = run_opco_email_job(world.server, make_job(world, "lea"))
    assert learner["state"] == "failed"
    assert "could not be built" in learner["message"] and "session instructor" in learner["message"]
    forged = run_opco_email_job(world.server, make_job(world, "inst", "session=s-m"))
    assert forged["state"] == "failed" and "outside your scope: s-m" in forged["message"]
    assert inbox.messages == []
    assert stored_files(world) == []


def test_mail007_not_configured(make_app, factory_for):
    app = make_app()
    factory_for(app)
    final = run_opco_email_job(app.server, make_job(app, "inst"))
    assert final["state"] == "failed"
    assert "LEARNSTATS_SMTP_URL is empty" in final["message"]


def test_mail008_job_tickets_are_signed():
    job = OpcoEmailJob(
        job_id="j1",
        user_id="inst",
        email="inst@example.org",
        name="Ines",
        scope=Scope(user_id="inst", sessions=frozenset({"s-a"}), class_trainings={"c": frozenset({"t"})}),
        request=parse_opco_query("session=s-a&format=xlsx"),
        base_url="http://x",
    )
    token = sign_job("secret", job)
    assert read_job("secret", token) == job
    assert read_job("secret", token).scope.class_trainings == {"c": frozenset({"t"})}
    with pytest.raises(BadSignature):
        read_job("other-secret", token)
    with pytest.raises(BadSignature):
        read_job("secret", token[:-2] + "xx")


def test_mail009_smtp_urls():
    assert parse_smtp_url("smtp://mail.example.org:2525") == parse_smtp_url("smtp://mail.example.org:2525/")
    config = parse_smtp_url("smtps://me%40x.org:p%3Ass@mail.example.org")
    assert (config.host, config.port, config.tls, config.username, config.password) == (
        "mail.example.org",
        465,
        True,
        "me@x.org",
        "p:ss",
    )
    assert parse_smtp_url("smtp://localhost").port == 25
    for bad in ("", "http://x", "smtp://", "smtp://host:notaport"):
        with pytest.raises(ValueError):
            parse_smtp_url(bad)


def test_mail012_the_unset_email_note_names_the_setting_to_administrators_only(make_app):
    """Issue 21: a manager cannot act on LEARNSTATS_SMTP_URL; an administrator can."""
    app = make_app()
    with app.server.test_request_context("/"):
        assert mail_problem("smtp://mail.example.org") is None
        assert mail_problem("smtp://mail.example.org", admin=False) is None
        assert mail_problem("", admin=True) == (
            "Receiving by email is unavailable: email is not configured on this server "
            "(LEARNSTATS_SMTP_URL is empty). Use Download now."
        )
        for url in ("", "http://x"):
            note = mail_problem(url, admin=False)
            assert note == (
                "Receiving by email is unavailable: email is not set up on this platform; "
                "ask your administrator. Use Download now."
            )
            assert "LEARNSTATS" not in note


@pytest.mark.parametrize("granularity", ["learner-session", "learner-course", "session"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_mail011_every_granularity_by_email_and_download_now(world, smtp, granularity, fmt):
    """SPEC §9: both deliveries of each granularity give the same file, named for it."""
    _controller, inbox = smtp
    query = f"session=s-a&granularity={granularity}&format={fmt}"
    final = run_opco_email_job(world.server, make_job(world, "inst", query))
    assert final["state"] == "sent", final
    [(_from, _to, content)] = inbox.messages
    path = LINK.search(message_from_bytes(content, policy=policy.default).get_content()).group(1)
    client = world.server.test_client()
    assert sign_in(client, ACCOUNTS["inst"]).status_code == 302
    emailed = client.get(path)
    now = client.get(f"/download/opco-logs?{query}")
    assert emailed.status_code == now.status_code == 200
    prefix = f"attachment; filename=opco-{granularity}-s-a-"
    assert emailed.headers["Content-Disposition"].startswith(prefix)
    assert now.headers["Content-Disposition"].startswith(f'attachment; filename="opco-{granularity}-s-a-')
    assert emailed.get_data() == now.get_data()
    if fmt == "csv":
        first_title = "Session" if granularity == "session" else "Last name"
        assert now.get_data().startswith(f"\ufeff{first_title},".encode())
