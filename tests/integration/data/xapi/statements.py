"""Small builders of xAPI statements for the tests (cmi5-like: a course, modules, questions)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy import select

from data.xapi import ingest_statements

ADL = "http://adlnet.gov/expapi/verbs/"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"
QUESTION_TYPE = "http://adlnet.gov/expapi/activities/question"
COURSE = "https://lms.example.org/course/safety"
M1 = COURSE + "/m1"
M2 = COURSE + "/m2"
Q1 = M1 + "/q1"
Q2 = M1 + "/q2"
_NS = uuid.UUID("0b9d7c43-5d0e-4bde-9f0d-4f1cbb7a3d11")


def sid(name: str) -> str:
    """A statement id named in a test (stable)."""
    return str(uuid.uuid5(_NS, name))


def agent(who: str = "ann", name: str | None = "Ann Marie Lee") -> dict:
    actor: dict = {"objectType": "Agent", "mbox": f"mailto:{who}@example.org"}
    if name:
        actor["name"] = name
    return actor


def course_activity(iri: str = COURSE, names: dict | None = None) -> dict:
    return {
        "id": iri,
        "objectType": "Activity",
        "definition": {"type": COURSE_TYPE, "name": names or {"en-US": "Safety", "fr-FR": "Sécurité"}},
    }


def statement(
    name: str,
    verb: str,
    obj: str,
    at: str,
    *,
    who: str = "ann",
    actor: dict | None = None,
    kind: str = "module",
    course: str | None = COURSE,
    parent: str | None = None,
    registration: str | None = None,
    result: dict | None = None,
    obj_name: str | None = None,
    definition: dict | None = None,
) -> dict:
    """A statement named `name` (its id is sid(name)): `who` does `verb` on `obj` at `at`
    (ISO, UTC when no offset is given). kind: course, module or question; a question's parent
    module is `parent` (None: only the course)."""
    verb_id = verb if verb.startswith("http") else ADL + verb
    types = {"course": COURSE_TYPE, "module": MODULE_TYPE, "question": QUESTION_TYPE}
    if kind == "course":
        target = course_activity(obj)
    else:
        target = {"id": obj, "objectType": "Activity", "definition": {"type": types[kind]}}
        if obj_name:
            target["definition"]["name"] = {"en-US": obj_name}
        if definition:
            target["definition"].update(definition)
    s: dict = {
        "id": sid(name),
        "actor": actor or agent(who),
        "verb": {"id": verb_id, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": target,
        "timestamp": at if ("Z" in at or "+" in at) else at + "Z",
    }
    context: dict = {}
    if course is not None and kind != "course":
        parents = (
            [{"id": parent, "objectType": "Activity", "definition": {"type": MODULE_TYPE}}] if parent else []
        )
        context["contextActivities"] = {"parent": parents or [course_activity(course)]}
        if parents:
            context["contextActivities"]["grouping"] = [course_activity(course)]
    if registration:
        context["registration"] = registration
    if context:
        s["context"] = context
    if result is not None:
        s["result"] = result
    return s


def voiding(name: str, target: str, at: str, who: str = "admin") -> dict:
    return {
        "id": sid(name),
        "actor": agent(who, None),
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": target},
        "timestamp": at + "Z",
    }


def ingest(session, statements: list, skip_invalid: bool = False, **kwargs):
    """Ingest statements (dicts or JSON texts) in-process; the report."""
    return ingest_statements(
        session,
        list(enumerate(statements, start=1)),
        source="test",
        skip_invalid=skip_invalid,
        workers=0,
        **kwargs,
    )


def write_jsonl(path: Path, statements: list) -> Path:
    path.write_text("".join(json.dumps(s) + "\n" for s in statements), encoding="utf-8")
    return path


def rows(session, model, *order) -> list:
    return list(session.scalars(select(model).order_by(*order)))
