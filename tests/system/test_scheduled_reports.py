"""Scheduled reports with several processes ticking at once (issue 18 point 3): `make serve`'s
gunicorn with 2 workers, each running the periodic jobs in-process (no broker in its
environment), and `make worker`'s Celery worker with beat (-B) on Redis, all on one PostgreSQL
database, with an SMTP server (aiosmtpd) in this process. Three schedulers tick every second
(LEARNSTATS_PERIODIC_TICK_SECONDS=1; 30 s by default); a due scheduled report is sent once, and
so is a "Send now".

The schedulers are made to look at once: the test holds the scheduled_reports table locked
(PostgreSQL's LOCK TABLE) while it makes a report due, for two ticks of each scheduler. A
scheduler that got past the job's lock (job_locks) waits there for the table: exactly one must.
Then the table is let go, the one that waited sends, and the later ticks send nothing more."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from tests.services import (
    CeleryWorker,
    Gunicorn,
    RedisServer,
    demo_database,
    free_port,
    stop_all,
    wait_until,
)

pytestmark = pytest.mark.postgres


class Inbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=default_policy))
        )
        return "250 Message accepted"


TICK = 1  # LEARNSTATS_PERIODIC_TICK_SECONDS of the three schedulers
BEAT_TICK = "Sending due task learnstats-periodic-jobs"  # Celery beat's log line at each tick


class HeldTable:
    """The scheduled_reports table locked by this test (ACCESS EXCLUSIVE: reads wait too) in one
    transaction: what it writes meanwhile, the schedulers see when it commits, and every
    scheduler that reads the table meanwhile waits, which pg_locks shows."""

    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        self.connection.execute(text("LOCK TABLE scheduled_reports IN ACCESS EXCLUSIVE MODE"))
        return self.connection

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.transaction.commit()
        else:
            self.transaction.rollback()
        self.connection.close()

    def waiting(self) -> int:
        """The other database sessions waiting for the table."""
        with self.engine.connect() as c:
            return c.execute(
                text(
                    "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted "
                    "AND relation = 'scheduled_reports'::regclass "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar_one()


def test_sys010_two_gunicorn_workers_and_celery_beat_send_a_report_once(pg_cluster, tmp_path):
    database = pg_cluster.create_database("learnstats_reports")
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    started = []
    engine = None
    try:
        redis = RedisServer(tmp_path / "redis")
        started.append(redis)
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LEARNSTATS_")},
            "LEARNSTATS_ENV": "production",
            "LEARNSTATS_SECRET_KEY": secrets.token_hex(32),
            "LEARNSTATS_DATABASE_URL": database,
            "LEARNSTATS_INSTANCE": str(tmp_path / "instance"),
            "LEARNSTATS_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "LEARNSTATS_MAIL_FROM": "stats@example.org",
            "LEARNSTATS_TIMEZONE": "Europe/Paris",
            "LEARNSTATS_SECURE_COOKIES": "false",
            "LEARNSTATS_BASE_URL": "http://reports.example.org",
            "LEARNSTATS_PERIODIC_TICK_SECONDS": str(TICK),
        }
        demo_database(database, learners=20, seed=5)  # `flask demo-data --learners 20 --seed 5`
        engine = create_engine(database)
        with engine.begin() as c:
            admin = c.execute(text("SELECT id FROM users WHERE email = 'admin@example.com'")).scalar_one()
            learner = c.execute(
                text(
                    "SELECT id FROM users WHERE status = 'active' AND id NOT IN (SELECT user_id FROM roles) "
                    "ORDER BY id LIMIT 1"
                )
            ).scalar_one()
        # The web workers tick in-process (no broker in their environment); the Celery worker
        # runs beat on Redis. Both read and write the same database. They start side by side.
        web = Gunicorn(base_env, tmp_path / "gunicorn.log", workers=2, wait=False)
        started.append(web)
        worker = CeleryWorker(
            {**base_env, "LEARNSTATS_REDIS_URL": redis.url(0)}, tmp_path / "celery.log", wait=False
        )
        started.append(worker)
        processes = (web, worker)
        web.wait_ready()
        worker.wait_ready()

        def runs():
            with engine.connect() as c:
                return c.execute(
                    text(
                        "SELECT trigger, recipient_id, status, reason FROM scheduled_report_runs ORDER BY id"
                    )
                ).all()

        def job_started() -> datetime | None:
            with engine.connect() as c:
                return c.execute(
                    text("SELECT last_started_at FROM job_locks WHERE name = 'scheduled-reports'")
                ).scalar()

        def beat_ticks() -> int:
            return worker.log_text(10_000_000).count(BEAT_TICK)

        def due_at_once(make_due) -> None:
            """make_due(connection) with the table held, through two ticks of every scheduler
            (beat's log counts its own): the one that took the job's lock waits alone."""
            held = HeldTable(engine)
            with held as c:
                make_due(c)
                wait_until(lambda: held.waiting() >= 1, "no scheduler read the schedules", 60, processes)
                since, ticks = time.monotonic(), beat_ticks()
                wait_until(
                    lambda: time.monotonic() - since >= 2 * TICK and beat_ticks() >= ticks + 2,
                    "Celery beat did not tick",
                    60,
                    processes,
                )
                # The others, at each of their ticks, found the job taken and passed.
                assert held.waiting() == 1

        def later_ticks_send_nothing(count: int) -> None:
            """The job starts again two ticks after the run at least (the schedulers go on
            looking): no run nor email more."""
            sent = datetime.now(UTC).replace(tzinfo=None)
            wait_until(
                lambda: (job_started() or sent) >= sent + timedelta(seconds=2 * TICK),
                "the schedulers stopped running the job",
                60,
                processes,
            )
            assert len(runs()) == count
            assert len(inbox.messages) == count // 2

        # Daily at this hour of Paris; last handled two hours ago: today's occurrence is due.
        now = datetime.now(UTC)
        hour = now.astimezone(ZoneInfo("Europe/Paris")).hour
        before = (now - timedelta(hours=2)).replace(tzinfo=None)

        def schedule(c) -> None:
            c.execute(
                text(
                    "INSERT INTO scheduled_reports (owner_id, title, kind, params, frequency, hour, recipients, "
                    "paused, created_at, updated_at, last_due_at, base_url) VALUES (:owner, 'Trainings', "
                    "'trainings', '{}', 'daily', :hour, :recipients, false, :before, :before, :before, '')"
                ),
                {"owner": admin, "hour": hour, "recipients": f'["{learner}"]', "before": before},
            )

        due_at_once(schedule)
        wait_until(lambda: len(runs()) >= 2, "the scheduled report was not run", 60, processes)
        later_ticks_send_nothing(2)
        first = runs()
        assert [(r.recipient_id, r.status) for r in first] == [(admin, "sent"), (learner, "skipped")]
        assert first[0].trigger in ("schedule", "catch-up")
        # in the platform's language (French by default): "<email> ne peut plus voir ce rapport"
        assert first[1].reason.endswith("@example.com ne peut plus voir ce rapport")
        assert [to for to, _m in inbox.messages] == [["admin@example.com"]]
        [(_to, message)] = inbox.messages
        [part] = list(message.iter_attachments())
        assert part.get_filename() == "trainings.csv"
        with engine.connect() as c:
            # the job ran under its lock (whichever of the three schedulers took it)
            assert (
                c.execute(text("SELECT count(*) FROM job_locks WHERE name = 'scheduled-reports'")).scalar()
                == 1
            )

        # "Send now" (the page's button sets send_now_at): sent once too.
        def send_now(c) -> None:
            c.execute(
                text("UPDATE scheduled_reports SET send_now_at = :now"),
                {"now": datetime.now(UTC).replace(tzinfo=None)},
            )

        due_at_once(send_now)
        wait_until(lambda: len(runs()) >= 4, "send now was not run", 60, processes)
        later_ticks_send_nothing(4)
        assert [(r.trigger, r.status) for r in runs()[2:]] == [("send-now", "sent"), ("send-now", "skipped")]
        assert len(inbox.messages) == 2
    finally:
        if engine is not None:
            engine.dispose()
        stop_all(reversed(started))
        smtp.stop()
        for process in started:
            assert not process.alive(), f"{process.name} still runs"
