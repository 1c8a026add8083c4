"""Scheduled reports with several processes ticking at once (issue 18 point 3): `make serve`'s
gunicorn with 2 workers, each running the periodic jobs in-process (no broker in its
environment), and `make worker`'s Celery worker with beat (-B) on Redis, all on one PostgreSQL
database, with an SMTP server (aiosmtpd) in this process. Three schedulers tick every 30 s;
a due scheduled report is sent once, and so is a "Send now"."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from tests.services import BIN, ROOT, CeleryWorker, Gunicorn, RedisServer, free_port, wait_until

pytestmark = pytest.mark.postgres


class Inbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=default_policy))
        )
        return "250 Message accepted"


def test_sys010_two_gunicorn_workers_and_celery_beat_send_a_report_once(pg_cluster, tmp_path):
    database = pg_cluster.create_database("learnstats_reports")
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    started = []
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
        }
        demo = subprocess.run(
            [str(BIN / "flask"), "--app", "app", "demo-data", "--learners", "20", "--seed", "5"],
            cwd=ROOT,
            env={**base_env, "LEARNSTATS_ENV": "development"},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert demo.returncode == 0, demo.stderr[-3000:]
        engine = create_engine(database)
        with engine.begin() as c:
            admin = c.execute(text("SELECT id FROM users WHERE email = 'admin@example.com'")).scalar_one()
            learner = c.execute(
                text(
                    "SELECT id FROM users WHERE status = 'active' AND id NOT IN (SELECT user_id FROM roles) "
                    "ORDER BY id LIMIT 1"
                )
            ).scalar_one()
            # Daily at this hour of Paris; last handled two hours ago: today's occurrence is due.
            now = datetime.now(UTC)
            hour = now.astimezone(ZoneInfo("Europe/Paris")).hour
            before = (now - timedelta(hours=2)).replace(tzinfo=None)
            c.execute(
                text(
                    "INSERT INTO scheduled_reports (owner_id, title, kind, params, frequency, hour, recipients, "
                    "paused, created_at, updated_at, last_due_at, base_url) VALUES (:owner, 'Trainings', "
                    "'trainings', '{}', 'daily', :hour, :recipients, false, :before, :before, :before, '')"
                ),
                {"owner": admin, "hour": hour, "recipients": f'["{learner}"]', "before": before},
            )
        # The web workers tick in-process (no broker in their environment); the Celery worker
        # runs beat on Redis. Both read and write the same database.
        web = Gunicorn(base_env, tmp_path / "gunicorn.log", workers=2)
        started.append(web)
        worker = CeleryWorker({**base_env, "LEARNSTATS_REDIS_URL": redis.url(0)}, tmp_path / "celery.log")
        started.append(worker)

        def runs():
            with engine.connect() as c:
                return c.execute(
                    text(
                        "SELECT trigger, recipient_id, status, reason FROM scheduled_report_runs ORDER BY id"
                    )
                ).all()

        wait_until(lambda: len(runs()) >= 2, "the scheduled report was not run", 120, (web, worker))
        time.sleep(70)  # at least two more ticks of each of the three schedulers
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
        with engine.begin() as c:
            c.execute(
                text("UPDATE scheduled_reports SET send_now_at = :now"),
                {"now": datetime.now(UTC).replace(tzinfo=None)},
            )
        wait_until(lambda: len(runs()) >= 4, "send now was not run", 90, (web, worker))
        time.sleep(65)
        assert [(r.trigger, r.status) for r in runs()[2:]] == [("send-now", "sent"), ("send-now", "skipped")]
        assert len(inbox.messages) == 2
        engine.dispose()
    finally:
        for process in reversed(started):
            process.stop()
        smtp.stop()
        for process in started:
            assert not process.alive(), f"{process.name} still runs"
