"""Checking one xAPI statement (ralph-malph's xAPI 1.0.3 models) and extracting what SPEC §8's
mapping reads from it.

Pure functions of the statement: they run in worker processes (data/xapi/ingest.py) and give
the same result whatever the order statements come in.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
LOGGED_IN = "https://w3id.org/xapi/adl/verbs/logged-in"
LOGGED_OUT = "https://w3id.org/xapi/adl/verbs/logged-out"
COURSE = "http://adlnet.gov/expapi/activities/course"
# Course activity types: SPEC §8's (ADL's), and the ones Moodle's logstore_xapi and cmi5 send
# for a course (docs/decisions.md, "xAPI (issue 17)").
COURSE_TYPES = frozenset(
    {
        COURSE,
        "http://id.tincanapi.com/activitytype/lms/course",
        "https://w3id.org/xapi/cmi5/activitytype/course",
    }
)
QUESTION_TYPES = (
    "http://adlnet.gov/expapi/activities/question",
    "http://adlnet.gov/expapi/activities/cmi.interaction",
)
# Verbs (as stored: an ADL verb's last segment, another verb's IRI).
# ADL's own logged-in / logged-out (http://adlnet.gov/expapi/verbs/...) are matched by their last
# segment like every ADL verb (SPEC §8), so they count as the w3id ones do.
LOGIN_VERBS = frozenset({LOGGED_IN, "logged-in", "launched", "initialized"})
OPENING_VERBS = frozenset({"launched", "initialized"})
CLOSING_VERBS = frozenset({"terminated", "exited", "suspended", LOGGED_OUT, "logged-out"})
FINISHING_VERBS = frozenset({"completed", "passed", "failed"})
ANSWER_VERBS = frozenset({"answered", "attempted"})
# Statement ids made up for statements that came without one (the same content, the same id).
_NO_ID = uuid.UUID("6f1f0a1e-2c55-4c3e-9a57-7c4f3f1b9d21")
# Properties an LRS adds or may change: not part of a statement's content (xAPI 1.0.3's
# statement comparison ignores them too).
_NOT_CONTENT = ("id", "stored", "authority", "version")
ID_LENGTH = 64
IGNORED_GROUP = "group actor"
IGNORED_NO_COURSE = "no course"
IGNORED_NO_TIME = "no timestamp"

_model = None
# Longest value ralph's memoized checks remember (a longer one is checked each time).
_MEMO_LONGEST = 2048


def _statement_model():
    global _model
    if _model is None:
        from ralph.models.xapi.base.statements import BaseXapiStatement

        _memoize_ralph_checks()
        _model = BaseXapiStatement
    return _model


def _memoize_ralph_checks() -> None:
    """ralph's IRI and language-tag validators, remembered per distinct value.

    ralph's models check every IRI with rfc3987's `parse` and every language tag with
    langcodes' `tag_is_valid`, looked up in ralph.models.xapi.base.common when called: two pure
    functions of one string, most of a statement's validation time, called again and again
    with the same few values (verbs, course and module IRIs, "fr-FR"). They are wrapped with a
    bounded memo of the values found valid: the same checks, the same answers, the same error
    for an invalid value (never remembered: it is checked again each time)."""
    from ralph.models.xapi.base import common

    parse, tag_is_valid = getattr(common, "parse", None), getattr(common, "tag_is_valid", None)
    if parse is None or tag_is_valid is None or getattr(parse, "_learnstats_memo", False):
        return

    @lru_cache(maxsize=16384)
    def _valid_iri(text: str, rule: str) -> bool:
        parse(text, rule=rule)  # raises ValueError when not valid: not remembered
        return True

    def parse_memo(string: str, rule: str = "IRI_reference"):
        if len(string) > _MEMO_LONGEST:
            return parse(string, rule=rule)
        return _valid_iri(string, rule)

    valid_tag = lru_cache(maxsize=4096)(tag_is_valid)

    def tag_is_valid_memo(tag: str) -> bool:
        return tag_is_valid(tag) if len(tag) > _MEMO_LONGEST else valid_tag(tag)

    parse_memo._learnstats_memo = True  # type: ignore[attr-defined]
    common.parse = parse_memo
    common.tag_is_valid = tag_is_valid_memo


# -- ralph's whole model, with the parts that repeat checked once per distinct value ---------
#
# A statement's verb, object, actor and context.contextActivities repeat from statement to
# statement (a few verbs, the courses' activities, one actor per learner); its id, timestamp,
# result and registration do not. BaseXapiStatement checks each field on its own (pydantic
# validates a field's value with that field's type alone) and then nothing across fields but
# its one `mode="before"` validator (empty values anywhere, context's platform/revision against
# object.objectType), which sees the whole statement. So, for a statement read from JSON text:
# the whole model accepts it  <=>  the lighter model (ralph's model with those four fields typed Any,
# the before validator inherited) accepts it  and  each of the four values is one the whole
# model accepted before in that field. A value is remembered only after the whole model
# accepted a statement holding it, keyed by its repr (one-to-one on what json.loads gives:
# dicts, lists, str, int, float, bool and None, with 1, 1.0 and True written apart, key order
# kept); anything else, and any statement the lighter model refuses, goes through the whole model,
# whose errors are the messages.
# tests/integration/data/xapi/test_checking_parts.py compares both on valid and invalid
# statements (ralph's own, the bench's, and altered copies of them).

_PARTS = ("verb", "object", "actor", "contextActivities")
_ABSENT = "-"  # a context without contextActivities (no repr of a JSON value is "-")
_SEEN_LIMIT = 16 * 1024 * 1024  # characters of remembered values per process, then forgotten
_seen: dict[str, set[str]] = {part: set() for part in _PARTS}
_seen_size = 0
_lighter = None


def _lighter_model():
    global _lighter
    if _lighter is None:
        from pydantic import create_model
        from ralph.models.xapi.base.contexts import BaseXapiContext

        full = _statement_model()
        context = create_model(
            "LearnstatsContextParts", __base__=BaseXapiContext, contextActivities=(Any | None, None)
        )
        _lighter = create_model(
            "LearnstatsStatementParts",
            __base__=full,
            actor=(Any, ...),
            verb=(Any, ...),
            object=(Any, ...),
            context=(context | None, None),
        )
    return _lighter


def _part_keys(statement: dict) -> tuple[str, ...] | None:
    """The repr of each repeated part (statement from json.loads); None when one is missing."""
    try:
        context = statement.get("context")
        if context is None:
            activities = _ABSENT
        elif isinstance(context, dict):
            activities = repr(context["contextActivities"]) if "contextActivities" in context else _ABSENT
        else:
            return None
        return repr(statement["verb"]), repr(statement["object"]), repr(statement["actor"]), activities
    except (KeyError, RecursionError):
        return None


def validate(statement: dict, from_json: bool):
    """ralph's BaseXapiStatement.model_validate(statement) (raises its ValidationError), its
    repeated parts checked once per distinct value when the statement was read from JSON text."""
    global _seen_size
    full = _statement_model()
    keys = _part_keys(statement) if from_json else None
    if keys is not None and all(key in _seen[part] for part, key in zip(_PARTS, keys, strict=True)):
        from pydantic import ValidationError

        try:
            return _lighter_model().model_validate(statement)
        except ValidationError:
            pass  # the whole model says what is wrong (the same message as always)
    model = full.model_validate(statement)
    if keys is not None:
        for part, key in zip(_PARTS, keys, strict=True):
            if key not in _seen[part]:
                if _seen_size > _SEEN_LIMIT:
                    for remembered in _seen.values():
                        remembered.clear()
                    _seen_size = 0
                _seen[part].add(key)
                _seen_size += len(key)
    return model


def fit_id(value: str) -> str:
    """An id that fits the id columns (64 characters): the value itself when short enough, else
    its start, "~" and a digest of the whole (two long IRIs never share an id)."""
    if len(value) <= ID_LENGTH:
        return value
    return value[:43] + "~" + hashlib.sha1(value.encode("utf-8")).hexdigest()[:20]


def all_content_module(training_id: str) -> str:
    """The id of a training's "(all content)" module."""
    return fit_id(training_id + "#all-content")


def short_verb(verb_id: str) -> str:
    if verb_id.startswith(ADL_VERBS):
        return verb_id[len(ADL_VERBS) :].strip("/")
    return verb_id[:300]


def pick_language(names: Any) -> str | None:
    """A language map's text: fr / fr-FR, else en / en-US, else any language."""
    if not isinstance(names, dict) or not names:
        return None
    folded = {str(k).lower(): v for k, v in names.items() if isinstance(v, str) and v.strip()}
    for key in ("fr", "fr-fr", "en", "en-us"):
        if key in folded:
            return folded[key].strip()
    for value in folded.values():
        return value.strip()
    return None


@dataclass(frozen=True)
class Checked:
    """A valid statement: the row of xapi_statements and the definitions of what it names."""

    row: dict
    user: tuple | None  # (id, email or None, name or None)
    course: tuple | None  # (id, name or None)
    module: tuple | None  # (id, name or "" when unnamed, training id); all-content modules: name None
    question: tuple | None  # (id, module id, name, description, correct answer, type); "": not given
    stored: datetime | None


def describe_errors(error) -> str:
    """ralph's (pydantic's) validation errors in one line: where and what, per field."""
    parts: list[str] = []
    seen: set[str] = set()
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if not str(p).startswith("BaseXapi")]
        field = ".".join(loc) or "statement"
        top = loc[0] if loc else "statement"
        if top in seen:
            continue
        seen.add(top)
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
        if len(parts) == 3:
            break
    return "; ".join(parts) or "not a valid xAPI statement"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _canonical(statement: dict) -> str:
    content = {k: v for k, v in statement.items() if k not in _NOT_CONTENT}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _activities(context: dict, key: str) -> list[dict]:
    value = (context.get("contextActivities") or {}).get(key)
    if isinstance(value, dict):
        return [value]
    return [a for a in value or () if isinstance(a, dict)]


def _type(activity: dict) -> str | None:
    definition = activity.get("definition")
    return definition.get("type") if isinstance(definition, dict) else None


def _name(activity: dict) -> str | None:
    definition = activity.get("definition")
    return pick_language(definition.get("name")) if isinstance(definition, dict) else None


def _actor_user(actor: dict) -> tuple[str, str | None] | None:
    """(user id, email) of an Agent by SPEC §8's rule; None for a group."""
    if actor.get("objectType") == "Group":
        return None
    account = actor.get("account")
    mbox = actor.get("mbox")
    email = mbox[len("mailto:") :] if isinstance(mbox, str) and mbox.lower().startswith("mailto:") else None
    if isinstance(account, dict) and account.get("name"):
        return str(account["name"]), email
    if email:
        return email, email
    if actor.get("openid"):
        return str(actor["openid"]), None
    if actor.get("mbox_sha1sum"):
        return str(actor["mbox_sha1sum"]), None
    return None


def check(statement: Any, raw: str | None = None) -> Checked | str:
    """A valid statement's Checked, or what is wrong with it (a sentence)."""
    if not isinstance(statement, dict):
        return "a statement must be a JSON object"
    if isinstance(statement.get("statements"), list) and "verb" not in statement:
        return (
            'an LRS answer ({"statements": [...], "more": ...}), not a statement: import its statements array'
        )
    from pydantic import ValidationError

    try:
        model = validate(statement, raw is not None)
    except ValidationError as error:
        return describe_errors(error)
    except KeyError as error:
        # ralph's before validator reads values["object"] when a context gives a platform or
        # a revision: a statement without object raised KeyError (and stopped the import).
        return f"{error.args[0] if error.args else 'statement'}: Field required"
    except (ValueError, TypeError, LookupError) as error:  # pragma: no cover - defensive
        return f"not a valid xAPI statement ({error})"
    canonical = _canonical(statement)
    statement_id = statement.get("id")
    statement_id = str(statement_id).lower() if statement_id else str(uuid.uuid5(_NO_ID, canonical))
    timestamp = _utc(getattr(model, "timestamp", None))
    stored = _utc(getattr(model, "stored", None))
    at = timestamp or stored
    verb = short_verb(str(statement["verb"]["id"]))
    actor = statement.get("actor") or {}
    obj = statement.get("object") or {}
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
    object_type = obj.get("objectType", "Activity")

    row: dict[str, Any] = {
        "id": statement_id,
        "digest": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        "raw": raw if raw is not None else json.dumps(statement, ensure_ascii=False, separators=(",", ":")),
        "at": at,
        "stored": stored,
        "actor": None,
        "verb": verb,
        "kind": "other",
        "course": None,
        "module": None,
        "question": None,
        "registration": str(context["registration"]).lower() if context.get("registration") else None,
        "score_raw": None,
        "score_scaled": None,
        "score_max": None,
        "success": result.get("success") if isinstance(result.get("success"), bool) else None,
        "response": None,
        "duration": None,
        "voids": None,
        "voided": False,
        "ignored": None,
    }
    score = result.get("score") if isinstance(result.get("score"), dict) else {}
    for key in ("raw", "scaled", "max"):
        if isinstance(score.get(key), (int, float)) and not isinstance(score.get(key), bool):
            row[f"score_{key}"] = float(score[key])
    if result.get("response") is not None:
        row["response"] = str(result["response"])
    model_result = getattr(model, "result", None)
    duration = getattr(model_result, "duration", None) if model_result is not None else None
    if duration is not None:
        row["duration"] = max(0.0, duration.total_seconds())

    user = _actor_user(actor)
    if user is not None:
        user_id = fit_id(user[0])
        row["actor"] = user_id
        user = (user_id, user[1], actor.get("name") if isinstance(actor.get("name"), str) else None)

    out_course = out_module = out_question = None
    if verb == "voided" and object_type == "StatementRef":
        row["kind"] = "ref"
        row["voids"] = str(obj.get("id", "")).lower()
    else:
        # The course: the object, else the first parent, then grouping, of type course.
        candidates = [obj] if object_type == "Activity" else []
        candidates += _activities(context, "parent") + _activities(context, "grouping")
        course = next((a for a in candidates if _type(a) in COURSE_TYPES and a.get("id")), None)
        if course is not None:
            training_id = fit_id(str(course["id"]))
            row["course"] = training_id
            out_course = (training_id, _name(course))
            if course is obj:
                row["kind"] = "course"
            elif object_type == "Activity" and obj.get("id"):
                if _type(obj) in QUESTION_TYPES:
                    row["kind"] = "question"
                    parent = next(
                        (
                            a
                            for a in _activities(context, "parent")
                            if _type(a) not in COURSE_TYPES and a.get("id")
                        ),
                        None,
                    )
                    if parent is None:
                        module_id, module_name = all_content_module(training_id), None
                    else:
                        module_id, module_name = fit_id(str(parent["id"])), _name(parent) or ""
                    question_id = fit_id(str(obj["id"]))
                    definition = obj.get("definition") or {}
                    pattern = definition.get("correctResponsesPattern")
                    out_question = (
                        question_id,
                        module_id,
                        _name(obj) or "",
                        pick_language(definition.get("description")) or "",
                        ", ".join(str(p) for p in pattern) if isinstance(pattern, list) else "",
                        str(definition.get("interactionType") or "question")[:64],
                    )
                    row["question"] = question_id
                else:
                    row["kind"] = "module"
                    module_id, module_name = fit_id(str(obj["id"])), _name(obj) or ""
                row["module"] = module_id
                out_module = (module_id, module_name, training_id)
    if row["actor"] is None:
        row["ignored"] = IGNORED_GROUP
    elif at is None:
        row["ignored"] = IGNORED_NO_TIME
    elif row["kind"] != "ref" and row["course"] is None and verb not in LOGIN_VERBS:
        row["ignored"] = IGNORED_NO_COURSE
    if row["ignored"] or row["kind"] == "ref":
        # Nothing to create for them (a voiding statement's actor is an LMS or an admin).
        out_course = out_module = out_question = None
        user = None
    if at is None:
        row["at"] = datetime(1970, 1, 1)
    return Checked(
        row=row, user=user, course=out_course, module=out_module, question=out_question, stored=stored
    )


_SPACE = re.compile(r"\s+")


def split_name(name: str | None) -> tuple[str, str]:
    """(first name, last name): split at the last space; a single word is the last name."""
    name = _SPACE.sub(" ", name or "").strip()
    if " " not in name:
        return "", name
    first, last = name.rsplit(" ", 1)
    return first, last


def check_text(line: int, text: str | bytes | dict) -> tuple[int, Checked | str]:
    """(line, Checked or error) for one item: JSON text or an already parsed statement."""
    if isinstance(text, dict):
        return line, check(text)
    message = getattr(text, "message", None)  # a ReadProblem of data/xapi/reading.py
    if message is not None:
        return line, message
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            return line, f"not UTF-8 text ({error.reason} at byte {error.start + 1})"
    try:
        statement = json.loads(text)
    except json.JSONDecodeError as error:
        return line, f"not JSON ({error.msg} at column {error.colno})"
    except RecursionError:
        return line, "not JSON (nested too deeply)"
    return line, check(statement, text.strip())


def check_batch(items: list[tuple[int, Any]]) -> list[tuple[int, Checked | str]]:
    """check_text over a batch (a worker process's unit of work)."""
    return [check_text(line, text) for line, text in items]
