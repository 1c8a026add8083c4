"""Statements written by others (issue 17): the Ralph LRS project's own FUN-MOOC video
statements (tests/data/xapi/README.md) import with --skip-invalid; altered copies of them are
skipped or ignored, each with its reason; one learner's figures are checked by hand."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data import models as m
from data import summaries

DATA = Path(__file__).resolve().parents[3] / "data" / "xapi" / "ralph-fun-mooc-video.jsonl.gz"
COURSE = "course-v1:FUN-MOOC+00001+session01"
LEARNER = "e608a730-6623-4277-bcc7-9ee76be1bede"
VIDEO = "uuid://d613b564-5d18-4238-a69c-0fc8cee5d0e7"  # ends in …cee5d0e7
OTHER_VIDEO_END = "f19e748b"


def statements() -> list[dict]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def server(make_app):
    return make_app().server


def test_xr001_ralph_statements_import_and_one_learner_by_hand(server):
    result = server.test_cli_runner().invoke(args=["import-xapi", str(DATA), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    rows = statements()
    assert f"Statements read: {len(rows)}; accepted: {len(rows)};" in result.output
    assert "Skipped as invalid" not in result.output and "ignored" not in result.output
    db = server.extensions["learnstats_db"]
    courses = {s["context"]["contextActivities"]["parent"][0]["id"] for s in rows}
    videos = {
        s["object"]["id"] for s in rows if s["context"]["contextActivities"]["parent"][0]["id"] == COURSE
    }
    with db.session() as s:
        assert set(s.scalars(select(m.Training.id))) == courses
        steps = set(
            s.scalars(select(m.TrainingModule.module_id).where(m.TrainingModule.training_id == COURSE))
        )
        assert steps == videos
        # e608a730…: initialized the other video once (11-24), then on video …cee5d0e7:
        # played 11-25 18:19:34.951152, completed 18:24:39.750888 (one connection of
        # 304.8 s; `played` is not an ADL verb, it only counts for connections (SPEC §8): attempt
        # 1 starts and finishes at `completed`); initialized 11-26 18:19:29 (a new connection and
        # attempt: 0 s), completed 11-28 18:24:39 (after a gap: 0 s; attempt 2 finished).
        attempts = s.execute(
            select(m.Attempt.module_id, m.Attempt.started_at, m.Attempt.finished_at)
            .where(m.Attempt.user_id == LEARNER)
            .order_by(m.Attempt.module_id, m.Attempt.started_at)
        ).all()
        other = next(a.module_id for a in attempts if a.module_id.endswith(OTHER_VIDEO_END))
        assert attempts == sorted(
            [
                (other, datetime(2021, 11, 24, 18, 47, 41, 724279), None),
                (
                    VIDEO,
                    datetime(2021, 11, 25, 18, 24, 39, 750888),
                    datetime(2021, 11, 25, 18, 24, 39, 750888),
                ),
                (
                    VIDEO,
                    datetime(2021, 11, 26, 18, 19, 29, 40160),
                    datetime(2021, 11, 28, 18, 24, 39, 750888),
                ),
            ]
        )
        summaries.refresh_pending(s)
        pair = s.get(m.SummaryPair, (LEARNER, COURSE))
        n = len(videos)
        assert (pair.status, pair.modules, pair.completed_modules) == ("in progress", n, 1)
        assert pair.score == pytest.approx(100.0 / n)  # a video without questions scores 100
        assert pair.time_spent == pytest.approx(304.8)
        assert s.scalar(select(func.count()).select_from(m.Login).where(m.Login.user_id == LEARNER)) == 2
        fact = s.get(m.SummaryModuleFact, (LEARNER, COURSE, VIDEO))
        assert (fact.attempts, fact.passed, fact.completed_at) == (
            2,
            True,
            datetime(2021, 11, 25, 18, 24, 39, 750888),
        )


def test_xr002_altered_copies_are_skipped_or_ignored_each_with_its_reason(server, tmp_path):
    rows = statements()[:6]
    no_verb, bad_time, no_course, group, bad_iri = (copy.deepcopy(r) for r in rows[:5])
    del no_verb["verb"]
    bad_time["timestamp"] = "2021-13-45T25:61:00Z"
    del no_course["context"]["contextActivities"]["parent"]
    group["actor"] = {"objectType": "Group", "member": [rows[0]["actor"]]}
    bad_iri["object"]["id"] = "not an iri"
    for altered in (no_verb, bad_time, no_course, group, bad_iri):
        altered["id"] = altered["id"][:-4] + "beef"
    lines = [json.dumps(r) for r in (*rows, no_verb, bad_time, no_course, group, bad_iri)]
    path = tmp_path / "altered.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = server.test_cli_runner().invoke(args=["import-xapi", str(path), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Statements read: 11; accepted: 8;" in out
    assert "  line 7: verb: Field required" in out
    assert "  line 8: timestamp: " in out
    assert "  line 11: object" in out
    assert f"  no course: 1 (e.g. line 9: statement {no_course['id']})" in out
    assert f"  group actor: 1 (e.g. line 10: statement {group['id']})" in out
    run = server.extensions["learnstats_db"]
    with run.session() as s:
        logged = s.scalars(select(m.ImportRun).order_by(m.ImportRun.id.desc())).first()
        skipped = json.loads(logged.skipped)
    assert set(skipped) == {"no course", "group actor", "invalid"}
    assert skipped["invalid"] == {"count": 3, "example": "line 7: verb: Field required"}
