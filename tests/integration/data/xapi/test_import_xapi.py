"""`flask --app app import-xapi FILE [--skip-invalid]` (SPEC §8, issue 17): formats, all or
nothing, `line N: what is wrong`, skip reasons, bounded memory on a huge line."""

from __future__ import annotations

import gzip
import json
import resource

import pytest
from sqlalchemy import func, select

from data import models as m
from tests.integration.data.xapi.statements import COURSE, M1, agent, sid, statement, voiding, write_jsonl


@pytest.fixture
def server(make_app):
    return make_app().server


def run(server, *args):
    return server.test_cli_runner().invoke(args=["import-xapi", *map(str, args)])


def count(server, model) -> int:
    db = server.extensions["learnstats_db"]
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def last_run(server) -> m.ImportRun:
    db = server.extensions["learnstats_db"]
    with db.session() as s:
        return s.scalars(select(m.ImportRun).order_by(m.ImportRun.id.desc())).first()


GOOD = [
    statement("1", "launched", M1, "2026-01-05T10:00:00"),
    statement("2", "completed", M1, "2026-01-05T10:20:00", result={"score": {"scaled": 0.8}}),
]


def test_xi001_json_lines_array_and_gzip_give_the_same_import(server, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", GOOD)
    result = run(server, tmp_path / "a.jsonl")
    assert result.exit_code == 0, result.output
    assert "Statements read: 2; accepted: 2; already received (duplicates): 0." in result.output
    assert (
        "Added: statements 2, users 1, trainings 1, modules 1, activities 0, enrollments 1, attempts 1, "
        "answers 0, connections 1, logins 1." in result.output
    )
    # The same statements as a pretty-printed array, gzipped: all duplicates.
    with gzip.open(tmp_path / "b.json.gz", "wt", encoding="utf-8") as f:
        json.dump(GOOD, f, indent=2)
    result = run(server, tmp_path / "b.json.gz")
    assert result.exit_code == 0, result.output
    assert "Statements read: 2; accepted: 0; already received (duplicates): 2." in result.output
    runs = last_run(server)
    assert (runs.kind, runs.source, runs.status, runs.accepted) == ("xapi-file", "b.json.gz", "done", 0)
    assert json.loads(runs.skipped) == {"duplicate": {"count": 2, "example": ""}}


def _bad_file(tmp_path):
    no_verb = statement("nv", "experienced", M1, "2026-01-05T10:00:00")
    del no_verb["verb"]
    bad_time = statement("bt", "experienced", M1, "2026-01-05T10:00:00")
    bad_time["timestamp"] = "yesterday at noon"
    group = statement("g", "completed", M1, "2026-01-05T10:00:00",
                      actor={"objectType": "Group", "name": "Team", "member": [agent("bob")]})  # fmt: skip
    lines = [
        json.dumps(GOOD[0]),
        "{this is not json",
        json.dumps(no_verb),
        json.dumps(bad_time),
        json.dumps(group),
        json.dumps(voiding("v", sid("unknown"), "2026-01-06T10:00:00")),
        json.dumps(GOOD[1]),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_xi002_invalid_statements_refuse_the_whole_file(server, tmp_path):
    result = run(server, _bad_file(tmp_path))
    assert result.exit_code != 0
    out = result.output
    assert "line 2: not JSON (Expecting property name enclosed in double quotes at column 2)" in out
    assert "line 3: verb: Field required" in out
    assert "line 4: timestamp: " in out
    assert "line 5:" not in out and "line 6:" not in out  # a group actor, an unknown voided id: valid
    assert "Import refused: 3 invalid statement(s); nothing was written" in out
    for model in (m.XapiStatement, m.User, m.Training, m.Attempt, m.Connection, m.Login):
        assert count(server, model) == 0, model
    failed = last_run(server)
    assert (failed.status, failed.error) == ("failed", "3 invalid statement(s); nothing was imported")
    assert json.loads(failed.skipped)["invalid"]["count"] == 3


def test_xi003_skip_invalid_imports_the_valid_ones_and_lists_the_others(server, tmp_path):
    result = run(server, _bad_file(tmp_path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Statements read: 7; accepted: 4;" in out
    assert f"  group actor: 1 (e.g. line 5: statement {sid('g')})" in out
    assert "Skipped as invalid: 3" in out
    assert (
        "  line 2: not JSON" in out
        and "  line 3: verb: Field required" in out
        and "  line 4: timestamp" in out
    )
    assert count(server, m.XapiStatement) == 4  # the group's and the voiding statement are kept
    assert count(server, m.Attempt) == 1
    done = last_run(server)
    skipped = json.loads(done.skipped)
    assert skipped["group actor"] == {"count": 1, "example": f"line 5: statement {sid('g')}"}
    assert skipped["invalid"]["count"] == 3 and skipped["invalid"]["example"].startswith("line 2: not JSON")


def test_xi004_a_200_mb_line_is_a_clear_error_in_bounded_memory(server, tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(GOOD[0]) + "\n")
        huge = statement("h", "experienced", M1, "2026-01-05T10:00:00", result={"response": ""})
        head, tail = json.dumps(huge).split('"response": ""')
        f.write(head + '"response": "')
        chunk = "x" * (1 << 20)
        for _ in range(200):
            f.write(chunk)
        f.write('"' + tail + "\n")
        f.write(json.dumps(GOOD[1]) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    result = run(server, path)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.exit_code != 0
    assert "line 2: statement too large (200 MB): at most 1,024 KB per statement" in result.output
    assert count(server, m.XapiStatement) == 0
    result = run(server, path, "--skip-invalid")
    assert result.exit_code == 0 and "Statements read: 3; accepted: 2;" in result.output
    assert grew < 100 * 1024, f"peak memory grew by {grew // 1024} MB"


def test_xi005_missing_or_unreadable_files(server, tmp_path):
    result = run(server, tmp_path / "nowhere.jsonl")
    assert result.exit_code != 0 and "does not exist" in result.output
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress(b'[{"a": 1}')[:-8])
    result = run(server, broken)
    assert result.exit_code != 0 and "Nothing was written." in result.output
    array = tmp_path / "open.json"
    array.write_text(json.dumps(GOOD)[:-1])
    result = run(server, array)
    assert result.exit_code != 0 and "line 1: the JSON array is not closed (missing ']')" in result.output
    assert count(server, m.XapiStatement) == 0


def test_xi006_a_group_actor_and_an_unknown_voided_id_are_kept_not_errors(server, tmp_path):
    group = statement("g", "completed", M1, "2026-01-05T10:00:00",
                      actor={"objectType": "Group", "member": [agent("bob")]})  # fmt: skip
    path = write_jsonl(tmp_path / "ok.jsonl", [group, voiding("v", sid("unknown"), "2026-01-06T10:00:00")])
    result = run(server, path)
    assert result.exit_code == 0, result.output
    assert "accepted: 2" in result.output and "group actor: 1" in result.output
    assert count(server, m.Training) == 0 and count(server, m.User) == 0
    # The statement the voiding one names arrives later: it is void.
    late = statement("unknown", "completed", COURSE + "/m9", "2026-01-05T10:00:00")
    assert run(server, write_jsonl(tmp_path / "late.jsonl", [late])).exit_code == 0
    assert count(server, m.Attempt) == 0


def test_xi007_a_big_file_is_checked_in_worker_processes_with_the_same_result(server, tmp_path):
    """More than one batch (2,000): checked in a pool of two processes, in order; one error
    among them is reported with its line as when checked in-process."""
    from data.xapi import XapiInvalid, ingest_statements, read_file

    many = [
        statement(f"s{i}", "experienced", M1, f"2026-01-05T10:{i % 60:02d}:00", who=f"u{i % 50}")
        for i in range(2500)
    ]
    lines = [json.dumps(s) for s in many]
    lines[2200] = "{oops"
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = server.extensions["learnstats_db"]
    for workers in (2, 0):
        with pytest.raises(XapiInvalid) as refused, db.session() as s:
            ingest_statements(s, read_file(path), source="t", skip_invalid=False, workers=workers)
        assert [str(e) for e in refused.value.errors] == [
            "line 2201: not JSON (Expecting property name enclosed in double quotes at column 2)"
        ]
    with db.session() as s:
        report = ingest_statements(s, read_file(path), source="t", skip_invalid=True, workers=2)
    assert (report.received, report.accepted, report.invalid_count, report.added["users"]) == (
        2500,
        2499,
        1,
        50,
    )
