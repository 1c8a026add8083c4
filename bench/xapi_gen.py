"""A benchmark file of N realistic xAPI 1.0.3 statements over a demo platform (issue 17).

    python -m bench xapi-gen --db instance/bench/bench-100000-seed42.sqlite3 --statements 1000000 \\
        --out instance/bench/xapi-1000000.jsonl.gz

What a cmi5 player or an LMS (Moodle's logstore_xapi, Open edX) sends, over the platform's own
learners (actor account.name = their user id, so they are the platform's users) and trainings
(one course IRI per training, its modules and questions as activities):

- `registered` on the course (context.registration), once per learner and course;
- a session: `https://w3id.org/xapi/adl/verbs/logged-in`, then `launched` and `initialized` on
  a module (parent: the course; cmi5 category), `answered` on 2-6 of its questions (parent: the
  module, grouping: the course; result.score raw/max, response, success), `completed` with a
  result.duration, then `passed` or `failed` with result.score.scaled, and `terminated`;
- about 1 statement in 200 is voided by a later `voided` statement (object: a StatementRef).

Statements are written as JSON lines to a gzip file as they are made: memory stays flat
whatever N. The same seed gives the same file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sqlite3
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOME = "https://lms.example.org"
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {
    "registered": ADL + "registered",
    "launched": ADL + "launched",
    "initialized": ADL + "initialized",
    "answered": ADL + "answered",
    "completed": ADL + "completed",
    "passed": ADL + "passed",
    "failed": ADL + "failed",
    "terminated": ADL + "terminated",
    "voided": ADL + "voided",
    "logged-in": "https://w3id.org/xapi/adl/verbs/logged-in",
}
COURSE = "http://adlnet.gov/expapi/activities/course"
MODULE = "http://adlnet.gov/expapi/activities/module"
QUESTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
CMI5 = {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}
VOID_ONE_IN = 200


def _platform(db: Path, learners_limit: int | None = None):
    """Learners, and per training its name, modules (id, name) and questions per module."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        users = [
            (u, f or "", last or "", e)
            for u, f, last, e in con.execute(
                "SELECT u.id, u.first_name, u.last_name, u.email FROM users u "
                "WHERE u.status = 'active' AND u.id NOT IN (SELECT user_id FROM roles WHERE role = 'admin') "
                "AND u.id IN (SELECT user_id FROM training_learners) ORDER BY u.id"
            )
        ]
        if learners_limit:
            users = users[:learners_limit]
        enrolled: dict[str, list[str]] = defaultdict(list)
        for user_id, training_id in con.execute(
            "SELECT user_id, training_id FROM training_learners ORDER BY user_id, training_id"
        ):
            enrolled[user_id].append(training_id)
        trainings = {t: name for t, name in con.execute("SELECT id, name FROM trainings")}
        modules: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for training_id, module_id, name in con.execute(
            "SELECT tm.training_id, m.id, m.name FROM training_modules tm JOIN modules m ON m.id = tm.module_id "
            "ORDER BY tm.training_id, tm.position"
        ):
            modules[training_id].append((module_id, name))
        questions: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        for module_id, activity_id, question, max_score in con.execute(
            "SELECT module_id, id, coalesce(nullif(question, ''), name), max_score FROM activities "
            "WHERE max_score > 0 ORDER BY module_id, position"
        ):
            questions[module_id].append((activity_id, question, float(max_score)))
    return users, enrolled, trainings, modules, questions


class _Enough(Exception):
    """The file has its N statements."""


def generate(db: Path, out: Path, statements: int, seed: int = 42) -> int:
    """Write `statements` statements to out (.jsonl.gz); returns how many were written."""
    rng = random.Random(seed)
    users, enrolled, trainings, modules, questions = _platform(db)
    users = [u for u in users if any(modules.get(t) for t in enrolled.get(u[0], ()))]
    if not users:
        raise SystemExit(f"{db}: no learner enrolled in a training with modules")
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    start = end - timedelta(days=365)
    registered: set[tuple[str, str]] = set()
    written = 0
    recent: list[str] = []  # ids a `voided` statement may target

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    tmp = out.with_name(out.name + ".partial")
    try:
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as fh:

            def emit(statement: dict, voidable: bool = True) -> None:
                nonlocal written
                if written >= statements:
                    raise _Enough
                fh.write(json.dumps(statement, ensure_ascii=False, separators=(",", ":")))
                fh.write("\n")
                written += 1
                if not voidable:
                    return
                recent.append(statement["id"])
                if len(recent) > 50:
                    del recent[:25]

            while True:
                user_id, first, last, _email = users[rng.randrange(len(users))]
                training_id = rng.choice([t for t in enrolled[user_id] if modules.get(t)])
                module_id, module_name = rng.choice(modules[training_id])
                actor = {"objectType": "Agent", "name": f"{first} {last}".strip() or user_id,
                         "account": {"homePage": HOME, "name": user_id}}  # fmt: skip
                course = {"id": f"{HOME}/courses/{training_id}", "objectType": "Activity",
                          "definition": {"type": COURSE, "name": {"fr-FR": trainings[training_id]}}}  # fmt: skip
                module = {"id": f"{HOME}/courses/{training_id}/modules/{module_id}", "objectType": "Activity",
                          "definition": {"type": MODULE, "name": {"fr-FR": module_name}}}  # fmt: skip
                registration = new_id()
                at = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))

                def statement(
                    verb: str,
                    obj: dict,
                    parents: list,
                    grouping: list,
                    result: dict | None = None,
                    actor: dict = actor,
                    registration: str = registration,
                ) -> dict:
                    nonlocal at
                    at += timedelta(seconds=rng.randint(20, 240))
                    body: dict = {
                        "id": new_id(),
                        "actor": actor,
                        "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
                        "object": obj,
                        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "context": {"registration": registration, "platform": "Learnstats bench LMS"},
                    }
                    activities: dict = {"category": [CMI5]}
                    if parents:
                        activities["parent"] = parents
                    if grouping:
                        activities["grouping"] = grouping
                    body["context"]["contextActivities"] = activities
                    if result is not None:
                        body["result"] = result
                    if obj.get("objectType") == "StatementRef":  # a voiding statement: no context
                        del body["context"]
                    return body

                if (user_id, training_id) not in registered:
                    registered.add((user_id, training_id))
                    emit(statement("registered", course, [], []))
                emit(statement("logged-in", {"id": f"{HOME}/login", "objectType": "Activity"}, [], []))
                emit(statement("launched", module, [course], []))
                emit(statement("initialized", module, [course], []))
                began = at
                points = total = 0.0
                asked = questions.get(module_id, [])
                for activity_id, text, max_score in rng.sample(asked, min(len(asked), rng.randint(2, 6))):
                    raw = round(rng.uniform(0, max_score), 1)
                    points, total = points + raw, total + max_score
                    question = {
                        "id": f"{HOME}/courses/{training_id}/questions/{activity_id}",
                        "objectType": "Activity",
                        "definition": {"type": QUESTION, "description": {"fr-FR": text or activity_id},
                                       "interactionType": "choice", "correctResponsesPattern": ["b"]},
                    }  # fmt: skip
                    emit(statement("answered", question, [module], [course], {
                        "score": {"raw": raw, "min": 0, "max": max_score}, "response": rng.choice("abcd"),
                        "success": raw >= max_score / 2,
                    }))  # fmt: skip
                if rng.random() < 0.8:
                    minutes = max(1, int((at - began).total_seconds() // 60))
                    duration = f"PT{minutes}M{rng.randint(0, 59)}S"
                    emit(
                        statement(
                            "completed", module, [course], [], {"completion": True, "duration": duration}
                        )
                    )
                    scaled = round(points / total, 3) if total else round(rng.random(), 3)
                    verdict = "passed" if scaled >= 0.5 else "failed"
                    emit(statement(verdict, module, [course], [], {"score": {"scaled": scaled},
                                                                    "success": verdict == "passed"}))  # fmt: skip
                emit(statement("terminated", module, [course], []))
                if recent and rng.randrange(VOID_ONE_IN // 8) == 0:
                    target = rng.choice(recent[:-1] or recent)
                    emit(
                        statement("voided", {"objectType": "StatementRef", "id": target}, [], []),
                        voidable=False,
                    )
    except _Enough:  # the file has its N statements
        pass
    tmp.replace(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the platform (SQLite file)")
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True, help="FILE.jsonl.gz")
    args = parser.parse_args(argv)
    n = generate(args.db, args.out, args.statements, args.seed)
    print(f"{n:,} statements written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
