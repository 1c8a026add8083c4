"""Relevé individuel d'activité (SPEC §10): one PDF per learner of a session, in a ZIP.

What a funder or a court asks besides connection logs (TA Toulouse, 2 Nov 2023; Code du travail
D6313-3-1): the learner's results and the individual support. Each relevé holds the
organisation block of the attestations (their saved defaults), the learner's identity, the
training, the session and its dates, the declared duration; per module of the training: status,
score (SPEC §4), progress, time spent in the session, first and last access; every attempt of
an evaluation (a module with a scored activity): date, score, passed/failed; the connections by
half-day (data/half_days.py: morning before 13:00, split at 13:00 and midnight, real lengths)
with each day's and the session's totals; the tutor contacts; "Fait à … le …", the stamp and
signature.

The learners are the session's (registered, or connected in it; blocked ones too), ordered as
every list of people. `gather_records` reads them in chunks of 500; `render_record` makes one
PDF (fpdf2, the attestations' fonts and layout); `write_records_zip` writes them all, complete
or absent, in worker processes for a large session (as the attestations).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from data.half_days import HalfDay, half_day_totals
from data.models import (
    Activity,
    Answer,
    Attempt,
    Module,
    SummaryModuleFact,
    SummaryPair,
    Training,
    TrainingModule,
)
from data.rules import attempt_score, module_passed, module_status
from data.scope import Scope
from data.session_records import Contact, Person, session_connections, session_people, session_tutor_contacts
from exports.attestation_options import AttestationError, AttestationOptions
from exports.attestations import (
    FONT,
    INK,
    MUTED,
    SIGNATURE_HEIGHT,
    Issuer,
    SessionFacts,
    _Document,
    _facts_table,
    _heading,
    _letterhead,
    _safe,
    _score_text,
    _signature,
    _signed_text,
    _table,
    _title,
    _workers,
    load_issuer,
    require_session,
)
from exports.formatting import NP_, gettext, hours_minutes, pgettext_in, round_half_up

CHUNK = 500  # learners read at once
RENDER_CHUNK = 25  # relevés per worker task
PARALLEL_ABOVE = 40

WORDING = {
    "title": NP_("document", "INDIVIDUAL ACTIVITY RECORD"),
    "subtitle": NP_("document", "Results, connections and individual support in the training session"),
    "learner": NP_("document", "Learner"),
    "email": NP_("document", "Email"),
    "training": NP_("document", "Training"),
    "session": NP_("document", "Session"),
    "session_dates": NP_("document", "Session dates"),
    "declared_duration": NP_("document", "Declared duration of the training sessions"),
    "training_progress": NP_("document", "Training progress"),
    "training_score": NP_("document", "Training score"),
    "no_score": NP_("document", "– (no mandatory module)"),
    "from_to": NP_("document", "from {start} to {end}"),
    "no_dates": NP_("document", "dates not given"),
    "modules_heading": NP_("document", "Modules"),
    "modules_columns": (
        NP_("document", "Module"),
        NP_("document", "Status"),
        NP_("document", "Score"),
        NP_("document", "Progress"),
        NP_("document", "Time in the session"),
        NP_("document", "First access"),
        NP_("document", "Last access"),
    ),
    "evaluations_heading": NP_("document", "Evaluation attempts"),
    "evaluations_columns": (
        NP_("document", "Evaluation"),
        NP_("document", "Date"),
        NP_("document", "Score"),
        NP_("document", "Result"),
    ),
    "no_evaluation": NP_("document", "No evaluation attempt."),
    "half_days_heading": NP_("document", "Connections by half-day"),
    "half_days_note": NP_(
        "document",
        "Local times ({zone}). Morning before 13:00; a connection across 13:00 or midnight is split there.",
    ),
    "half_days_columns": (
        NP_("document", "Date"),
        NP_("document", "Half-day"),
        NP_("document", "First connection"),
        NP_("document", "Last disconnection"),
        NP_("document", "Time spent"),
    ),
    "morning": NP_("document", "Morning"),
    "afternoon": NP_("document", "Afternoon"),
    "day_total": NP_("document", "Total of the day"),
    "session_total": NP_("document", "Total time spent in the session"),
    "no_connection": NP_("document", "No connection in this session."),
    "contacts_heading": NP_("document", "Tutor contacts"),
    "contacts_columns": (
        NP_("document", "Date"),
        NP_("document", "Tutor"),
        NP_("document", "Channel"),
        NP_("document", "Duration"),
        NP_("document", "Subject"),
    ),
    "no_contact": NP_("document", "No tutor contact recorded."),
    "channels": {
        "email": NP_("document", "email"),
        "phone": NP_("document", "phone"),
        "visio": NP_("document", "video call"),
        "message": NP_("document", "message"),
        "forum": NP_("document", "forum"),
        "in-person": NP_("document", "in person"),
    },
    "statuses": {
        "passed": NP_("document", "Passed"),
        "failed": NP_("document", "Failed"),
        "in progress": NP_("document", "In progress"),
        "not started": NP_("document", "Not started"),
    },
    "signed": NP_("document", "Signed at {place} on {date}"),
    "stamp": NP_("document", "Stamp and signature"),
    "for_org": NP_("document", "For {org}, {name}, legal representative"),
    "running_head": NP_("document", "{title} · {name} · session {session}"),
}


def record_words(language: str) -> dict:
    def translated(value):
        if isinstance(value, str):
            return pgettext_in(language, "document", value)
        if isinstance(value, tuple):
            return tuple(translated(item) for item in value)
        return {key: translated(item) for key, item in value.items()}

    return translated(WORDING)


# -- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleActivity:
    name: str
    status: str
    score: float | None  # once completed
    progress: float  # %
    seconds: float  # in the session
    first_access: datetime | None  # naive UTC
    last_access: datetime | None


@dataclass(frozen=True)
class EvaluationAttempt:
    module: str
    at: datetime  # finished, else started
    score: float | None  # None while in progress
    result: str  # passed, failed, in progress


@dataclass(frozen=True)
class ActivityRecord:
    person: Person
    modules: tuple[ModuleActivity, ...]
    evaluations: tuple[EvaluationAttempt, ...]
    half_days: tuple[HalfDay, ...]
    contacts: tuple[Contact, ...]
    training_progress: float
    training_score: float | None

    @property
    def total_seconds(self) -> float:
        return sum(h.seconds for h in self.half_days)


def session_facts(session: Session, scope: Scope, session_id: str) -> SessionFacts:
    program = require_session(session, scope, session_id)
    training = session.get(Training, program.training_id)
    return SessionFacts(
        session_id=program.id,
        session_name=program.name or program.id,
        training_id=program.training_id,
        training_name=(training.name if training else "") or program.training_id,
        starts_at=program.starts_at,
        ends_at=program.ends_at,
    )


def gather_records(
    session: Session, scope: Scope, session_id: str, tz: tzinfo
) -> tuple[SessionFacts, list[ActivityRecord]]:
    """The session and one record per learner, ordered as people (Forbidden outside the scope)."""
    facts = session_facts(session, scope, session_id)
    people = session_people(session, scope, session_id)
    records: list[ActivityRecord] = []
    for start in range(0, len(people), CHUNK):
        records += _chunk(session, scope, facts, people[start : start + CHUNK], tz)
    return facts, records


def _chunk(
    session: Session, scope: Scope, facts: SessionFacts, people: list[Person], tz: tzinfo
) -> list[ActivityRecord]:
    training_id = facts.training_id
    ids = [p.user_id for p in people]
    steps = session.execute(
        select(TrainingModule.module_id, Module.name, TrainingModule.min_score)
        .join(Module, Module.id == TrainingModule.module_id)
        .where(TrainingModule.training_id == training_id)
        .order_by(TrainingModule.position, Module.name, Module.id)
    ).all()
    module_ids = [s[0] for s in steps]
    names = {s[0]: s[1] or s[0] for s in steps}
    min_scores = {s[0]: s[2] or 0.0 for s in steps}
    activities: dict[str, tuple[int, float]] = {}
    for module_id, count, max_points in session.execute(
        select(
            Activity.module_id,
            func.count(),
            func.coalesce(func.sum(case((Activity.max_score > 0, Activity.max_score), else_=0.0)), 0.0),
        )
        .where(Activity.module_id.in_(module_ids))
        .group_by(Activity.module_id)
    ):
        activities[module_id] = (count, float(max_points))
    f = SummaryModuleFact
    facts_by_user: dict[str, dict[str, tuple]] = defaultdict(dict)
    for user_id, module_id, attempts, completed_at, score, passed in session.execute(
        select(f.user_id, f.module_id, f.attempts, f.completed_at, f.module_score, f.passed).where(
            f.user_id.in_(ids), f.training_id == training_id
        )
    ):
        facts_by_user[user_id][module_id] = (attempts, completed_at, score, passed)
    pairs = {
        user_id: (modules, completed, score)
        for user_id, modules, completed, score in session.execute(
            select(
                SummaryPair.user_id, SummaryPair.modules, SummaryPair.completed_modules, SummaryPair.score
            ).where(SummaryPair.user_id.in_(ids), SummaryPair.training_id == training_id)
        )
    }
    # Every attempt in the training, with its evaluated points and its number of answers.
    answers = (
        select(
            Answer.attempt_id.label("attempt_id"),
            func.sum(case((Answer.evaluated, Answer.score), else_=0.0)).label("points"),
            func.count().label("answered"),
        )
        .join(Attempt, Attempt.id == Answer.attempt_id)
        .where(Attempt.user_id.in_(ids), Attempt.training_id == training_id)
        .group_by(Answer.attempt_id)
        .subquery()
    )
    attempts: dict[str, list[tuple]] = defaultdict(list)
    for row in session.execute(
        select(
            Attempt.user_id,
            Attempt.module_id,
            Attempt.id,
            Attempt.started_at,
            Attempt.finished_at,
            Attempt.score_override,
            Attempt.verdict,
            func.coalesce(answers.c.points, 0.0),
            func.coalesce(answers.c.answered, 0),
        )
        .outerjoin(answers, answers.c.attempt_id == Attempt.id)
        .where(Attempt.user_id.in_(ids), Attempt.training_id == training_id)
        .order_by(Attempt.user_id, Attempt.started_at, Attempt.id)
    ):
        attempts[row[0]].append(row[1:])
    connections = session_connections(session, scope, facts.session_id, ids)
    contacts = session_tutor_contacts(session, scope, facts.session_id, ids)

    records = []
    for person in people:
        user_id = person.user_id
        spans = connections.get(user_id, [])
        seconds: dict[str, float] = defaultdict(float)
        first: dict[str, datetime] = {}
        last: dict[str, datetime] = {}

        def seen(
            module_id: str,
            start: datetime | None,
            end: datetime | None,
            first: dict[str, datetime] = first,
            last: dict[str, datetime] = last,
        ) -> None:
            if start is not None and (module_id not in first or start < first[module_id]):
                first[module_id] = start
            end = end or start
            if end is not None and (module_id not in last or end > last[module_id]):
                last[module_id] = end

        for module_id, start, end in spans:
            seconds[module_id] += max((end - start).total_seconds(), 0.0)
            seen(module_id, start, end)
        evaluations = []
        best_progress: dict[str, float] = defaultdict(float)
        for module_id, _attempt_id, started, finished, override, verdict, points, answered in attempts.get(
            user_id, []
        ):
            seen(module_id, started, finished)
            count, max_points = activities.get(module_id, (0, 0.0))
            if count:
                best_progress[module_id] = max(best_progress[module_id], min(100.0, 100.0 * answered / count))
            if module_id in names and max_points > 0:
                if finished is not None:
                    score = attempt_score(float(points), max_points, override)
                    result = "passed" if module_passed(score, min_scores[module_id], verdict) else "failed"
                    evaluations.append(EvaluationAttempt(names[module_id], finished, score, result))
                else:
                    evaluations.append(EvaluationAttempt(names[module_id], started, None, "in progress"))
        modules = []
        for module_id in module_ids:
            n_attempts, completed_at, score, passed = facts_by_user[user_id].get(
                module_id, (0, None, None, False)
            )
            status = module_status(completed_at, passed, n_attempts)
            if completed_at is not None:
                progress = 100.0
            elif n_attempts:
                progress = best_progress.get(module_id, 0.0)
            else:
                progress = 0.0
            modules.append(
                ModuleActivity(
                    name=names[module_id],
                    status=status,
                    score=score if completed_at is not None else None,
                    progress=progress,
                    seconds=seconds.get(module_id, 0.0),
                    first_access=first.get(module_id),
                    last_access=last.get(module_id),
                )
            )
        n_modules, completed, training_score = pairs.get(user_id, (len(module_ids), 0, None))
        records.append(
            ActivityRecord(
                person=person,
                modules=tuple(modules),
                evaluations=tuple(sorted(evaluations, key=lambda e: (e.at, e.module))),
                half_days=tuple(half_day_totals(((s, e) for _, s, e in spans), tz)),
                contacts=tuple(contacts.get(user_id, [])),
                training_progress=100.0 * completed / n_modules if n_modules else 0.0,
                training_score=training_score if pairs.get(user_id) else None,
            )
        )
    return records


# -- rendering -----------------------------------------------------------------------------


def _local(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(tz)


def _moment(moment: datetime | None, tz: tzinfo) -> str:
    return f"{_local(moment, tz):%d/%m/%Y %H:%M}" if moment else "–"


def _clock(moment: datetime, day: date, tz: tzinfo) -> str:
    """HH:MM of a moment on its half-day's day; the midnight that ends an afternoon is 24:00."""
    local = _local(moment, tz)
    if local.date() > day:
        return "24:00"
    return f"{local:%H:%M}"


def _pct(value: float) -> str:
    """A whole percentage: 66.7 -> "67 %" (progress)."""
    return f"{round_half_up(value, 0):.0f} %"


def _period(facts: SessionFacts, words: dict, tz: tzinfo) -> str:
    if not (facts.starts_at or facts.ends_at):
        return words["no_dates"]
    start = f"{_local(facts.starts_at, tz):%d/%m/%Y}" if facts.starts_at else "–"
    end = f"{_local(facts.ends_at, tz):%d/%m/%Y}" if facts.ends_at else "–"
    return words["from_to"].format(start=start, end=end)


def render_record(issuer: Issuer, facts: SessionFacts, record: ActivityRecord) -> bytes:
    """One learner's relevé as PDF bytes."""
    language = issuer.options.language
    words = record_words(language)
    tz = issuer.tz
    person = record.person
    o = issuer.options
    texts = [
        o.org_name, o.address, o.legal_representative, o.place, o.footer, o.nda,
        facts.session_name, facts.training_name, facts.session_id,
        person.first_name, person.last_name, person.email,
        *(m.name for m in record.modules),
        *(t for c in record.contacts for t in (c.tutor, c.subject)),
    ]  # fmt: skip
    pdf = _Document(
        issuer,
        f"{words['title'].capitalize()} · {person.full_name}",
        words["running_head"].format(
            title=words["title"].capitalize(), name=person.full_name, session=facts.session_id
        ),
        texts,
    )
    pdf.alias_nb_pages()
    pdf.add_page()
    _letterhead(pdf)
    _title(pdf, words["title"], words["subtitle"])
    _facts_table(
        pdf,
        [
            (words["learner"], person.full_name),
            (words["email"], person.email or "–"),
            (words["training"], facts.training_name),
            (words["session"], f"{facts.session_name} ({facts.session_id})"),
            (words["session_dates"], _period(facts, words, tz)),
            (
                words["declared_duration"],
                hours_minutes(o.duration_hours * 3600) if o.duration_hours else "–",
            ),
            (words["training_progress"], _pct(record.training_progress)),
            (
                words["training_score"],
                _score_text(record.training_score, language)
                if record.training_score is not None
                else words["no_score"],
            ),
        ],
    )

    _heading(pdf, words["modules_heading"])
    _table(
        pdf,
        words["modules_columns"],
        [
            (
                m.name,
                words["statuses"].get(m.status, m.status),
                _score_text(m.score, language),
                _pct(m.progress),
                hours_minutes(m.seconds),
                _moment(m.first_access, tz),
                _moment(m.last_access, tz),
            )
            for m in record.modules
        ],
        (36, 27, 16, 24, 15, 28, 28),
        ("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT", "LEFT"),
    )

    _heading(pdf, words["evaluations_heading"])
    if record.evaluations:
        _table(
            pdf,
            words["evaluations_columns"],
            [
                (
                    e.module,
                    _moment(e.at, tz),
                    _score_text(e.score, language),
                    words["statuses"].get(e.result, e.result),
                )
                for e in record.evaluations
            ],
            (70, 35, 20, 25),
            ("LEFT", "LEFT", "RIGHT", "LEFT"),
        )
    else:
        _note(pdf, words["no_evaluation"])

    _heading(pdf, words["half_days_heading"], keep=30)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0, 4, words["half_days_note"].format(zone=getattr(tz, "key", str(tz))), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_text_color(*INK)
    pdf.ln(1)
    if record.half_days:
        rows: list[tuple[str, ...]] = []
        halves = list(record.half_days)
        for index, half in enumerate(halves):
            rows.append(
                (
                    f"{half.day:%d/%m/%Y}",
                    words[half.half],
                    _clock(half.first, half.day, tz),
                    _clock(half.last, half.day, tz),
                    hours_minutes(half.seconds),
                )
            )
            if index == len(halves) - 1 or halves[index + 1].day != half.day:
                day_seconds = sum(h.seconds for h in halves if h.day == half.day)
                rows.append((f"{half.day:%d/%m/%Y}", words["day_total"], "", "", hours_minutes(day_seconds)))
        _table(
            pdf,
            words["half_days_columns"],
            rows,
            (28, 34, 32, 32, 24),
            ("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT"),
        )
    else:
        _note(pdf, words["no_connection"])

    _heading(pdf, words["contacts_heading"])
    if record.contacts:
        _table(
            pdf,
            words["contacts_columns"],
            [
                (
                    _moment(c.contacted_at, tz),
                    c.tutor,
                    words["channels"].get(c.channel, c.channel),
                    hours_minutes(c.duration_minutes * 60) if c.duration_minutes is not None else "–",
                    c.subject or "–",
                )
                for c in record.contacts
            ],
            (27, 28, 24, 15, 56),
            ("LEFT", "LEFT", "LEFT", "RIGHT", "LEFT"),
        )
    else:
        _note(pdf, words["no_contact"])

    if pdf.will_page_break(8 + SIGNATURE_HEIGHT):
        pdf.add_page()
    _facts_table(pdf, [(words["session_total"], hours_minutes(record.total_seconds))])
    _signature(
        pdf,
        [
            _signed_text(issuer, words["signed"]),
            "",
            words["for_org"].format(org=o.org_name, name=o.legal_representative),
        ],
        words["stamp"],
    )
    return bytes(pdf.output())


def _note(pdf, text: str) -> None:
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(2)


def record_name(record: ActivityRecord, session_id: str) -> str:
    """releve_Marchand_Elodie_S1.pdf."""
    p = record.person
    parts = ["releve", _safe(p.last_name), _safe(p.first_name), _safe(session_id)]
    if not _safe(p.last_name) and not _safe(p.first_name):
        parts[1:3] = [_safe(p.email.split("@")[0]) or _safe(p.user_id) or "learner"]
    return "_".join(x for x in parts if x) + ".pdf"


def _render_chunk(issuer: Issuer, facts: SessionFacts, records: list[ActivityRecord]) -> list[bytes]:
    return [render_record(issuer, facts, record) for record in records]


def _rendered(
    issuer: Issuer, facts: SessionFacts, chunks: list[list[ActivityRecord]]
) -> Iterator[list[bytes]]:
    workers = _workers()
    total = sum(len(c) for c in chunks)
    if total > PARALLEL_ABOVE and workers > 1 and not multiprocessing.current_process().daemon:
        # Fork only a single-threaded process: a fork of a threaded one (a job thread of the web
        # server, jobs/background.py) may inherit a lock another thread holds and hang (issue 23).
        single = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if single else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_render_chunk, issuer, facts, chunk) for chunk in chunks]
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
        return
    for chunk in chunks:
        yield _render_chunk(issuer, facts, chunk)


def session_records(
    session: Session,
    scope: Scope,
    session_id: str,
    options: AttestationOptions,
    tz: tzinfo,
    signed_on: date | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """(entry name, PDF bytes) of every learner's relevé. Everything is checked before the
    first document (scope, options, images, a session with learners)."""
    issuer = load_issuer(session, options, tz, signed_on)
    facts, records = gather_records(session, scope, session_id, tz)
    if not records:
        raise AttestationError(
            gettext("session %(session)s has no learner: no activity record to make", session=session_id)
        )
    return _documents(issuer, facts, records, on_progress)


def _documents(issuer, facts, records, on_progress) -> Iterator[tuple[str, bytes]]:
    used: set[str] = set()
    names = []
    for record in records:
        name = record_name(record, facts.session_id)
        if name in used:
            name = name[:-4] + f"_{_safe(record.person.user_id)}.pdf"
        used.add(name)
        names.append(name)
    chunks = [records[i : i + RENDER_CHUNK] for i in range(0, len(records), RENDER_CHUNK)]
    done = 0
    for _chunk, documents in zip(chunks, _rendered(issuer, facts, chunks), strict=True):
        for data in documents:
            yield names[done], data
            done += 1
        if on_progress is not None:
            on_progress(done, len(records))


def write_records_zip(
    session: Session,
    scope: Scope,
    session_id: str,
    options: AttestationOptions,
    tz: tzinfo,
    target: str | os.PathLike[str],
    signed_on: date | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Every relevé of the session into a ZIP at target, complete or absent; their number."""
    documents = session_records(session, scope, session_id, options, tz, signed_on, on_progress)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    day = signed_on or datetime.now(tz).date()
    stamp = (day.year, day.month, day.day, 12, 0, 0)
    count = 0
    try:
        with os.fdopen(handle, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            for name, data in documents:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_STORED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
                count += 1
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


__all__ = [
    "ActivityRecord",
    "EvaluationAttempt",
    "ModuleActivity",
    "gather_records",
    "record_name",
    "render_record",
    "session_records",
    "write_records_zip",
]
