"""OPCO attestations d'assiduité and certificats de réalisation of a program session (SPEC §7).

Pure functions, as every exporter: they read through the caller's SQLAlchemy session, in the
viewer's scope, and return bytes (one PDF) or write a ZIP (every document of a session). The
session page's dialog and its background job, the per-learner download route and the
`export-attestations` command all wrap `session_documents` / `write_session_zip`.

- `gather(...)`: the session, and per learner who played it (at least one connection in it,
  blocked users included) the identity, the employer (a chosen custom field), each module of
  the session's training with SPEC §4's status and score and the time spent in that module in
  this session, every connection in this session, and the training score.
- `render_attestation` / `render_certificate`: one PDF each, fpdf2 with DejaVu Sans (committed
  under assets/fonts: accents, œ, « », —, € and the certificat's boxes ☐ ☒). A new FPDF per
  document; the creation date is the signature date, so the same inputs give the same bytes.
- `write_session_zip`: every document, written to a temporary file renamed into place at the
  end: the ZIP is complete or absent.
"""

from __future__ import annotations

import copy
import io
import multiprocessing
import os
import re
import tempfile
import threading
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from functools import cache, lru_cache
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from PIL import Image
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from data.models import (
    Activity,
    Connection,
    Module,
    ProgramSession,
    SummaryModuleFact,
    SummaryPair,
    Training,
    TrainingModule,
    User,
    UserField,
)
from data.rules import module_status
from data.scope import Forbidden, Scope
from exports.attestation_options import AttestationError, AttestationOptions, format_hours, load_image
from exports.formatting import NP_, gettext, hours_minutes, pgettext_in
from exports.opco_logs import format_duration, format_local

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
# A Latin subset of DejaVu Sans (assets/fonts/README.md says how it was made) makes a document
# several times faster than the whole font; the whole font is added as a fallback only to the
# documents whose texts need a character the subset lacks (Greek, Cyrillic, ...).
FONT_FILES = {"": "DejaVuSans-Subset.ttf", "B": "DejaVuSans-Bold-Subset.ttf"}
FULL_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT = "LsSans"
FALLBACK_FONT = "LsSansFull"
KIND_FILE_PREFIX = {"attestation": "attestation", "certificate": "certificat"}

INK = (33, 37, 41)
MUTED = (95, 101, 110)
RULE = (190, 196, 204)
HEAD_FILL = (226, 232, 240)
ROW_FILL = (246, 248, 250)
TICK = "☒"
EMPTY_LINE = "_" * 24  # the certificat's employer when the learner has none: a line to fill in
BOX = "☐"


# -- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFacts:
    session_id: str
    session_name: str
    training_id: str
    training_name: str
    starts_at: datetime | None  # naive UTC
    ends_at: datetime | None


@dataclass(frozen=True)
class ModuleLine:
    module_id: str
    name: str
    kind: str  # "course" or "assessment" (a module with scored activities)
    mandatory: bool
    status: str  # SPEC §4: passed, failed, in progress, not started
    score: float | None  # the module score once completed
    seconds: float  # connected to it inside this session


@dataclass(frozen=True)
class ConnectionLine:
    course: str
    connected_at: datetime  # naive UTC
    disconnected_at: datetime

    @property
    def seconds(self) -> float:
        return max((self.disconnected_at - self.connected_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class LearnerRecord:
    user_id: str
    first_name: str
    last_name: str
    email: str
    employer: str
    modules: tuple[ModuleLine, ...]
    connections: tuple[ConnectionLine, ...]
    training_score: float | None

    @property
    def full_name(self) -> str:
        """First and last name (the email when both are empty)."""
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def total_seconds(self) -> float:
        """Exact time connected in the session (summed before any rounding)."""
        return sum(c.seconds for c in self.connections)


def can_make_documents(scope: Scope) -> bool:
    """SPEC §6: those who may export a session's OPCO logs may make its attestations."""
    return scope.is_global or bool(scope.sessions) or bool(scope.trainings)


def require_session(session: Session, scope: Scope, session_id: str) -> ProgramSession:
    """The session, if the viewer may make its documents: Forbidden otherwise (unknown ids
    too, for anyone but global roles, so ids cannot be probed)."""
    if not can_make_documents(scope):
        raise Forbidden(
            gettext("making attestations needs a session instructor, training manager or global role")
        )
    program = session.get(ProgramSession, session_id) if isinstance(session_id, str) and session_id else None
    if program is None:
        if scope.is_global:
            raise AttestationError(gettext("there is no session with ID %(session)r", session=session_id))
        raise Forbidden()
    visible = session.scalar(
        select(func.count())
        .select_from(ProgramSession)
        .where(
            ProgramSession.id == session_id,
            scope.session_filter(ProgramSession.id, ProgramSession.training_id),
        )
    )
    if not visible:
        raise Forbidden()
    return program


def session_players(session: Session, scope: Scope, session_id: str) -> list[str]:
    """Ids of the learners who played the session (at least one connection in it)."""
    require_session(session, scope, session_id)
    return list(
        session.scalars(
            select(Connection.user_id)
            .join(User, User.id == Connection.user_id)
            .where(Connection.session_id == session_id)
            .group_by(Connection.user_id, User.sort_key)
            .order_by(User.sort_key, Connection.user_id)
        )
    )


def gather(
    session: Session,
    scope: Scope,
    session_id: str,
    employer_field: str = "",
    user_ids: Iterable[str] | None = None,
) -> tuple[SessionFacts, list[LearnerRecord]]:
    """The session and its players' records, ordered as people lists are (SPEC §4).

    user_ids narrows to some players; one who did not play the session is an error, as is a
    session nobody played."""
    program = require_session(session, scope, session_id)
    training = session.get(Training, program.training_id)
    facts = SessionFacts(
        session_id=program.id,
        session_name=program.name or program.id,
        training_id=program.training_id,
        training_name=(training.name if training else "") or program.training_id,
        starts_at=program.starts_at,
        ends_at=program.ends_at,
    )
    players = session_players(session, scope, session_id)
    if not players:
        raise AttestationError(
            gettext(
                "nobody played session %(session)s: it has no connection, so no document", session=session_id
            )
        )
    if user_ids is not None:
        wanted = [str(u) for u in user_ids]
        missing = sorted(set(wanted) - set(players))
        if missing:
            raise AttestationError(
                gettext(
                    "did not play session %(session)s: %(ids)s", session=session_id, ids=", ".join(missing)
                )
            )
        chosen = set(wanted)
        players = [p for p in players if p in chosen]
    return facts, [*_records(session, facts, players, employer_field)]


def _records(session: Session, facts: SessionFacts, players: list[str], employer_field: str):
    for start in range(0, len(players), 500):
        chunk = players[start : start + 500]
        yield from _record_chunk(session, facts, chunk, employer_field)


def _record_chunk(
    session: Session, facts: SessionFacts, user_ids: list[str], employer_field: str
) -> Iterator[LearnerRecord]:
    training_id = facts.training_id
    steps = session.execute(
        select(TrainingModule.module_id, Module.name, TrainingModule.mandatory)
        .join(Module, Module.id == TrainingModule.module_id)
        .where(TrainingModule.training_id == training_id)
        .order_by(TrainingModule.position, Module.name, Module.id)
    ).all()
    scored = set(
        session.scalars(
            select(Activity.module_id)
            .where(Activity.module_id.in_([s[0] for s in steps]), Activity.max_score > 0)
            .distinct()
        )
    )
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    employers: dict[str, str] = {}
    if employer_field:
        employers = dict(
            session.execute(
                select(UserField.user_id, UserField.value).where(
                    UserField.user_id.in_(user_ids), UserField.field == employer_field
                )
            ).all()
        )
    facts_by_user: dict[str, dict[str, tuple]] = defaultdict(dict)
    f = SummaryModuleFact
    for user_id, module_id, attempts, completed_at, score, passed in session.execute(
        select(f.user_id, f.module_id, f.attempts, f.completed_at, f.module_score, f.passed).where(
            f.user_id.in_(user_ids), f.training_id == training_id
        )
    ):
        facts_by_user[user_id][module_id] = (attempts, completed_at, score, passed)
    scores = dict(
        session.execute(
            select(SummaryPair.user_id, SummaryPair.score).where(
                SummaryPair.user_id.in_(user_ids), SummaryPair.training_id == training_id
            )
        ).all()
    )
    connections: dict[str, list[ConnectionLine]] = defaultdict(list)
    module_seconds: dict[tuple[str, str], float] = defaultdict(float)
    for user_id, module_id, module_name, connected_at, disconnected_at in session.execute(
        select(
            Connection.user_id,
            Connection.module_id,
            Module.name,
            Connection.connected_at,
            Connection.disconnected_at,
        )
        .join(Module, Module.id == Connection.module_id)
        .where(and_(Connection.session_id == facts.session_id, Connection.user_id.in_(user_ids)))
        .order_by(Connection.user_id, Connection.connected_at, Module.name, Connection.disconnected_at)
    ):
        line = ConnectionLine(module_name or module_id, connected_at, disconnected_at)
        connections[user_id].append(line)
        module_seconds[(user_id, module_id)] += line.seconds
    for user_id in user_ids:
        user = people[user_id]
        modules = []
        for module_id, name, mandatory in steps:
            attempts, completed_at, score, passed = facts_by_user[user_id].get(
                module_id, (0, None, None, False)
            )
            modules.append(
                ModuleLine(
                    module_id=module_id,
                    name=name or module_id,
                    kind="assessment" if module_id in scored else "course",
                    mandatory=bool(mandatory),
                    status=module_status(completed_at, passed, attempts),
                    score=score if completed_at is not None else None,
                    seconds=module_seconds.get((user_id, module_id), 0.0),
                )
            )
        yield LearnerRecord(
            user_id=user_id,
            first_name=user.first_name or "",
            last_name=user.last_name or "",
            email=user.email or "",
            employer=employers.get(user_id) or "",
            modules=tuple(modules),
            connections=tuple(connections[user_id]),
            training_score=scores.get(user_id),
        )


# -- wording -------------------------------------------------------------------------------

# The documents' wording, in English, marked for the catalogue with the context "document"
# (pybabel keyword NP_:1c,2): the French is the catalogue's (translations/fr), kept apart from
# the interface's texts ("Apprenant(e)" on a document, "Apprenant" on a page). "natures" is the
# certificat's list of actions and "certificate" its text, in the Ministry of Labour's model's
# order (SPEC §7); the English is a faithful translation of the model.
WORDING = {
    "attestation_title": NP_("document", "CERTIFICATE OF ATTENDANCE"),
    "attestation_subtitle": NP_("document", "Connection record of the training session"),
    "certificate_title": NP_("document", "CERTIFICATE OF COMPLETION"),
    "learner": NP_("document", "Learner"),
    "email": NP_("document", "Email"),
    "employer": NP_("document", "Employer"),
    "training": NP_("document", "Training"),
    "session": NP_("document", "Session"),
    "session_dates": NP_("document", "Session dates"),
    "declared_duration": NP_("document", "Declared duration of the training sessions"),
    "modules_heading": NP_("document", "Courses and assessments"),
    "modules_columns": (
        NP_("document", "Course or assessment"),
        NP_("document", "Type"),
        NP_("document", "Status"),
        NP_("document", "Score"),
        NP_("document", "Time in the session"),
    ),
    "log_heading": NP_("document", "Connection log in the session"),
    "log_columns": (
        NP_("document", "Course"),
        NP_("document", "Connected"),
        NP_("document", "Disconnected"),
        NP_("document", "Time spent"),
    ),
    "log_note": NP_("document", "Local times ({zone}). Time spent as DD:HH:MM."),
    "total_time": NP_("document", "Total time spent in the session"),
    "training_score": NP_("document", "Training score"),
    "no_score": NP_("document", "– (no mandatory module)"),
    "course": NP_("document", "Course"),
    "assessment": NP_("document", "Assessment"),
    "statuses": {
        "passed": NP_("document", "Passed"),
        "failed": NP_("document", "Failed"),
        "in progress": NP_("document", "In progress"),
        "not started": NP_("document", "Not started"),
    },
    "legal_representative": NP_("document", "Legal representative"),
    "nda": NP_("document", "Training provider declaration no."),
    "siret": NP_("document", "SIRET"),
    "signed": NP_("document", "Signed at {place} on {date}"),
    "stamp": NP_("document", "Stamp and signature"),
    "for_org": NP_("document", "For {org}, {name}, legal representative"),
    "page": NP_("document", "Page {n} / {nb}"),
    "from_to": NP_("document", "from {start} to {end}"),
    "no_dates": NP_("document", "dates not given"),
    "running_head": NP_("document", "{title} · {name} · session {session}"),
    "natures": {
        "formation": NP_("document", "training action"),
        "bilan": NP_("document", "skills assessment"),
        "vae": NP_("document", "accreditation of prior experience (VAE)"),
        "apprentissage": NP_("document", "apprenticeship training action"),
    },
    "certificate": {
        "undersigned": NP_(
            "document",
            "I, the undersigned {representative}, legal representative of the provider of the "
            "skills development action {organisation},",
        ),
        "certifies": NP_("document", "certify that:"),
        "learner": NP_("document", "{learner}, employee of the company {employer},"),
        "followed": NP_("document", "attended the action {training}"),
        "nature": NP_("document", "Nature of the skills development action:"),
        "dates": NP_("document", "which took place from {start} to {end}"),
        "duration": NP_("document", "for a completed duration of {duration}"),
        "commitment": NP_(
            "document",
            "Without prejudice to the periods imposed by tax, accounting or commercial rules, I "
            "undertake to keep all the supporting documents used to draw up this certificate for "
            "3 years from the end of the year of the last payment. In the event of co-financing by "
            "European funds, the retention period is extended in accordance with the specific "
            "contractual obligations.",
        ),
        "signed": NP_("document", "Signed at {place} on {date}"),
        "stamp": NP_("document", "Stamp and signature of the head of the provider"),
    },
}


@cache
def document_words(language: str) -> dict:
    """WORDING in one language (the catalogue's, read without Flask: pgettext_in)."""

    def translated(value):
        if isinstance(value, str):
            return pgettext_in(language, "document", value)
        if isinstance(value, tuple):
            return tuple(translated(item) for item in value)
        return {key: translated(item) for key, item in value.items()}

    return translated(WORDING)


def _score_text(score: float | None, language: str) -> str:
    if score is None:
        return "–"
    text = f"{score + 1e-9:.1f}"
    return (text.replace(".", ",") if language == "fr" else text) + " %"


def _local_day(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return ""
    return f"{moment.replace(tzinfo=UTC).astimezone(tz):%d/%m/%Y}"


def session_period(facts: SessionFacts, learner: LearnerRecord, tz: tzinfo) -> tuple[str, str]:
    """(start, end) as DD/MM/YYYY: the session's dates, else the learner's first and last
    connection in it (each end separately)."""
    first = min((c.connected_at for c in learner.connections), default=None)
    last = max((c.disconnected_at for c in learner.connections), default=None)
    start = facts.starts_at or first
    end = facts.ends_at or last
    return _local_day(start, tz), _local_day(end, tz)


# -- rendering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    """The options with their images loaded: what every document of one run prints."""

    options: AttestationOptions
    logo: bytes | None
    stamp: bytes | None
    signed_on: date
    tz: tzinfo

    @property
    def words(self) -> dict:
        return document_words(self.options.language)


def load_issuer(
    session: Session, options: AttestationOptions, tz: tzinfo, signed_on: date | None = None
) -> Issuer:
    """Check the options and load their images; AttestationError saying what is wrong."""
    options.check()
    return Issuer(
        options=options,
        logo=load_image(session, options.logo, "logo"),
        stamp=load_image(session, options.stamp, "stamp and signature"),
        signed_on=signed_on or datetime.now(tz).date(),
        tz=tz,
    )


@lru_cache(maxsize=4)
def _subset_characters() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(FONT_DIR / FONT_FILES[""], lazy=True) as font:
        return frozenset(font.getBestCmap())


@lru_cache(maxsize=8)
def _image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


_PARSED_FONTS: dict[tuple[str, str, Path], tuple[TTFFont, bytes]] = {}


def _add_parsed_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """pdf.add_font(family, style, path), reading the font file once per process.

    fpdf2 parses the TTF for every document (most of a small document's time). The parsed
    font is kept and copied the way fpdf2 copies fonts itself (TTFFont.__deepcopy__: widths,
    glyph ids and a fresh subset map), with a fresh fontTools font read lazily from the kept
    bytes, because writing the PDF subsets that font in place. The result is byte for byte the
    PDF add_font makes (tests/integration/exports/test_attestations.py checks it)."""
    key = (family, style, path)
    parsed = _PARSED_FONTS.get(key)
    if parsed is None:
        scratch = FPDF()
        scratch.add_font(family, style, str(path))
        parsed = _PARSED_FONTS[key] = (scratch.fonts[f"{family.lower()}{style}"], path.read_bytes())
    template, data = parsed
    font = copy.copy(template)  # shares the widths, glyph ids and cmap, read only
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[f"{family.lower()}{style}"] = font


class _Document(FPDF):
    """A4 portrait (landscape: the feuille d'émargement) with the footer text and "Page X / Y" on every page, and a running head
    from the second page on."""

    def __init__(
        self, issuer: Issuer, title: str, running_head: str, texts: Iterable[str], orientation: str = "P"
    ):
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.issuer = issuer
        self.running_head = running_head
        for style, name in FONT_FILES.items():
            _add_parsed_font(self, FONT, style, FONT_DIR / name)
        needed = {ord(ch) for text in texts for ch in text if ch >= " "}
        if needed - _subset_characters():
            for style, name in FULL_FONT_FILES.items():
                self.add_font(FALLBACK_FONT, style, str(FONT_DIR / name))
            self.set_fallback_fonts([FALLBACK_FONT])
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=20)
        self.set_creation_date(datetime.combine(issuer.signed_on, time(12), tzinfo=issuer.tz).astimezone(UTC))
        self.set_title(title)
        self.set_author(issuer.options.org_name)
        self.set_creator("Learnstats")
        self.set_lang("fr-FR" if issuer.options.language == "fr" else "en-GB")
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)

    def header(self):
        if self.page_no() > 1:
            self.set_font(FONT, "", 7.5)
            self.set_text_color(*MUTED)
            self.cell(0, 4, self.running_head, align="L", new_x="LMARGIN", new_y="NEXT")
            self.set_draw_color(*RULE)
            self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
            self.ln(5)
            self.set_text_color(*INK)

    def footer(self):
        self.set_y(-17)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        page = self.issuer.words["page"].format(n=self.page_no(), nb="{nb}")
        footer = self.issuer.options.footer
        width = self.w - self.l_margin - self.r_margin
        top = self.get_y()
        if footer:
            _text(self, footer, width - 26, 3.4)
            self.set_xy(self.w - self.r_margin - 24, top)
        self.cell(24 if footer else width, 3.4, page, align="R")
        self.set_text_color(*INK)


def _words(paragraph: str) -> list[str]:
    """Words to wrap between; French punctuation after a space (" :", " ;", " »", " %")
    stays with the word before it."""
    words: list[str] = []
    for word in paragraph.split(" "):
        if words and word and word[0] in ":;!?»%" and len(word) <= 2:
            words[-1] += " " + word
        else:
            words.append(word)
    return words


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """text in lines no wider than width (current font), broken between words, a word wider
    than the line broken between characters; "\\n" starts a new line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in _words(paragraph):
            candidate = f"{line} {word}" if line else word
            if pdf.get_string_width(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while pdf.get_string_width(word) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and pdf.get_string_width(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _text(pdf: FPDF, text: str, width: float, height: float, align: str = "L") -> None:
    """Wrapped text from the current position, one cell() per line (fpdf2's multi_cell measures
    each line character by character: most of a certificat's time); ends on the next line at
    the same left edge."""
    x = pdf.get_x()
    for line in _wrap(pdf, text, width):
        pdf.set_x(x)
        pdf.cell(width, height, line, align=align, new_x="LEFT", new_y="NEXT")


def _image(pdf: FPDF, data: bytes, x: float, y: float, max_w: float, max_h: float, align: str = "L") -> float:
    """Draw an image inside a max_w × max_h box, proportions kept; its height."""
    width, height = _image_size(data)
    scale = min(max_w / width, max_h / height)
    w, h = width * scale, height * scale
    left = {"L": x, "C": x + (max_w - w) / 2, "R": x + max_w - w}[align]
    pdf.image(io.BytesIO(data), x=left, y=y, w=w, h=h)
    return h


def _letterhead(pdf: _Document) -> None:
    """Logo on the left, the organisation's block on the right."""
    issuer, o = pdf.issuer, pdf.issuer.options
    words = issuer.words
    top = pdf.t_margin
    logo_h = _image(pdf, issuer.logo, pdf.l_margin, top, 48, 24) if issuer.logo else 0.0
    block_x = pdf.l_margin + 60
    block_w = pdf.w - pdf.r_margin - block_x
    pdf.set_xy(block_x, top)
    pdf.set_font(FONT, "B", 11.5)
    _text(pdf, o.org_name, block_w, 5.4, align="R")
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    lines = [line.strip() for line in o.address.splitlines() if line.strip()]
    lines.append(
        f"{words['legal_representative']} : {o.legal_representative}"
        if o.language == "fr"
        else f"{words['legal_representative']}: {o.legal_representative}"
    )
    if o.nda:
        lines.append(f"{words['nda']} {o.nda}")
    if o.siret:
        siret = f"{o.siret[:3]} {o.siret[3:6]} {o.siret[6:9]} {o.siret[9:]}"
        lines.append(f"{words['siret']} : {siret}" if o.language == "fr" else f"{words['siret']}: {siret}")
    for line in lines:
        pdf.set_x(block_x)
        _text(pdf, line, block_w, 4.2, align="R")
    pdf.set_text_color(*INK)
    pdf.set_y(max(pdf.get_y(), top + logo_h) + 5)


def _title(pdf: _Document, title: str, subtitle: str = "") -> None:
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, title, align="C", new_x="LMARGIN", new_y="NEXT")
    if subtitle:
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 5, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)
    pdf.ln(4)


def _facts_table(pdf: _Document, rows: list[tuple[str, str]]) -> None:
    """Label / value lines, labels in a fixed column."""
    label_w = 80
    value_w = pdf.w - pdf.l_margin - pdf.r_margin - label_w
    colon = " :" if pdf.issuer.options.language == "fr" else ":"
    for label, value in rows:
        y = pdf.get_y()
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        _text(pdf, label + colon, label_w - 3, 4.7)
        bottom = pdf.get_y()
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, "B", 9.5)
        pdf.set_xy(pdf.l_margin + label_w, y)
        _text(pdf, value, value_w, 4.7)
        pdf.set_y(max(pdf.get_y(), bottom))
    pdf.ln(2)


def _heading(pdf: _Document, text: str, keep: float = 22) -> None:
    if pdf.will_page_break(keep):
        pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 6.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.5)


LINE_H = 4.6  # a table line, mm
PAD_X, PAD_Y = 1.6, 0.8  # a table cell's inner margins, mm


def _table(pdf: _Document, headings: tuple[str, ...], rows: list[tuple[str, ...]], widths, align) -> None:
    """A table with its header row repeated at the top of every page it continues on.

    Drawn with cell() (fpdf2's table() lays every cell out twice: most of a document's time);
    a cell whose text is wider than its column wraps onto more lines, never clipped. Widths are
    proportions of the text width; align: "LEFT" / "RIGHT" per column."""
    total = pdf.w - pdf.l_margin - pdf.r_margin
    cols = [total * w / sum(widths) for w in widths]
    aligns = ["R" if a == "RIGHT" else "L" for a in align]

    def lines_of(text: str, width: float) -> list[str]:
        if pdf.get_string_width(text) <= width - 2 * PAD_X:
            return [text]
        return _wrap(pdf, text, width - 2 * PAD_X)

    def draw(cells: list[str], style: str, fill: tuple[int, int, int] | None) -> None:
        pdf.set_font(FONT, style, 8.5)
        wrapped = [lines_of(text, width) for text, width in zip(cells, cols, strict=True)]
        height = max(len(w) for w in wrapped) * LINE_H + 2 * PAD_Y
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            if style == "":
                draw(list(headings), "B", HEAD_FILL)
                pdf.set_font(FONT, style, 8.5)
        x, y = pdf.l_margin, pdf.get_y()
        if fill is not None:
            pdf.set_fill_color(*fill)
            pdf.rect(x, y, total, height, style="F")
        for lines, width, side in zip(wrapped, cols, aligns, strict=True):
            for n, line in enumerate(lines):
                pdf.set_xy(x + PAD_X, y + PAD_Y + n * LINE_H)
                pdf.cell(width - 2 * PAD_X, LINE_H, line, align=side)
            x += width
        pdf.line(pdf.l_margin, y + height, pdf.l_margin + total, y + height)
        pdf.set_xy(pdf.l_margin, y + height)

    if pdf.get_y() + 2 * (LINE_H + 2 * PAD_Y) > pdf.page_break_trigger:
        pdf.add_page()  # never a header alone at the foot of a page
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    draw(list(headings), "B", HEAD_FILL)
    for number, row in enumerate(rows):
        draw(list(row), "", ROW_FILL if number % 2 else None)
    pdf.ln(4)


SIGNATURE_HEIGHT = 34  # mm: place and date, the stamp-and-signature box


def _signature(pdf: _Document, left_lines: list[str], caption: str) -> None:
    """Place and date on the left, the stamp-and-signature box on the right, kept together."""
    issuer = pdf.issuer
    if pdf.will_page_break(SIGNATURE_HEIGHT):
        pdf.add_page()
    pdf.ln(1)
    top = pdf.get_y()
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    pdf.set_font(FONT, "", 10)
    for line in left_lines:
        _text(pdf, line, half - 6, 5.5)
    box_x = pdf.l_margin + half + 6
    box_w = half - 6
    pdf.set_xy(box_x, top)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    _text(pdf, caption, box_w, 4.2, align="C")
    pdf.set_text_color(*INK)
    image_top = pdf.get_y() + 1.5
    if issuer.stamp:
        _image(pdf, issuer.stamp, box_x + 4, image_top, box_w - 8, 26, align="C")
    pdf.set_y(max(pdf.get_y(), image_top + 27))


def _signed_text(issuer: Issuer, template: str) -> str:
    return template.format(place=issuer.options.place, date=f"{issuer.signed_on:%d/%m/%Y}")


def _texts_of(issuer: Issuer, facts: SessionFacts, learner: LearnerRecord) -> list[str]:
    o = issuer.options
    return [
        o.org_name, o.address, o.legal_representative, o.place, o.footer, o.nda,
        facts.session_name, facts.training_name, facts.session_id,
        learner.first_name, learner.last_name, learner.email, learner.employer,
        *(m.name for m in learner.modules), *(c.course for c in learner.connections),
    ]  # fmt: skip


def render_attestation(issuer: Issuer, facts: SessionFacts, learner: LearnerRecord) -> bytes:
    """The attestation d'assiduité of one learner in one session (SPEC §7), as PDF bytes."""
    words = issuer.words
    language = issuer.options.language
    tz = issuer.tz
    pdf = _Document(
        issuer,
        f"{words['attestation_title'].capitalize()} · {learner.full_name}",
        words["running_head"].format(
            title=words["attestation_title"].capitalize(), name=learner.full_name, session=facts.session_id
        ),
        [*_texts_of(issuer, facts, learner), *words["statuses"].values()],
    )
    pdf.alias_nb_pages()
    pdf.add_page()
    _letterhead(pdf)
    _title(pdf, words["attestation_title"], words["attestation_subtitle"])
    start, end = session_period(facts, learner, tz)
    if facts.starts_at or facts.ends_at:
        dates = words["from_to"].format(start=start or "–", end=end or "–")
    else:
        dates = words["no_dates"]
    rows = [
        (words["learner"], learner.full_name),
        (words["email"], learner.email or "–"),
    ]
    if issuer.options.employer_field:
        rows.append((words["employer"], learner.employer or "–"))
    rows += [
        (words["training"], facts.training_name),
        (words["session"], f"{facts.session_name} ({facts.session_id})"),
        (words["session_dates"], dates),
        (words["declared_duration"], _hours_text(issuer.options.duration_hours)),
    ]
    _facts_table(pdf, rows)

    _heading(pdf, words["modules_heading"])
    module_rows = [
        (
            m.name,
            words[m.kind],
            words["statuses"].get(m.status, m.status),
            _score_text(m.score, language),
            hours_minutes(m.seconds),
        )
        for m in learner.modules
    ]
    _table(
        pdf,
        words["modules_columns"],
        module_rows,
        (63, 22, 23, 17, 49),
        ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"),
    )

    _heading(pdf, words["log_heading"], keep=30)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 4, words["log_note"].format(zone=getattr(tz, "key", str(tz))), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(1)
    log_rows = [
        (
            c.course,
            format_local(c.connected_at, tz),
            format_local(c.disconnected_at, tz),
            format_duration(c.disconnected_at - c.connected_at),
        )
        for c in learner.connections
    ]
    _table(pdf, words["log_columns"], log_rows, (74, 35, 35, 30), ("LEFT", "LEFT", "LEFT", "RIGHT"))

    if pdf.will_page_break(12 + SIGNATURE_HEIGHT):  # the totals and the signature together
        pdf.add_page()
    _facts_table(
        pdf,
        [
            (words["total_time"], hours_minutes(learner.total_seconds)),
            (
                words["training_score"],
                _score_text(learner.training_score, language)
                if learner.training_score is not None
                else words["no_score"],
            ),
        ],
    )
    o = issuer.options
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


def _hours_text(hours: float | None) -> str:
    return format_hours(hours) if hours is not None else "–"


def render_certificate(issuer: Issuer, facts: SessionFacts, learner: LearnerRecord) -> bytes:
    """The certificat de réalisation of one learner (SPEC §7, the Ministry's model), PDF bytes."""
    o = issuer.options
    words = issuer.words
    text = words["certificate"]
    pdf = _Document(
        issuer,
        f"{words['certificate_title'].capitalize()} · {learner.full_name}",
        words["running_head"].format(
            title=words["certificate_title"].capitalize(), name=learner.full_name, session=facts.session_id
        ),
        [*_texts_of(issuer, facts, learner), *words["natures"].values()],
    )
    pdf.alias_nb_pages()
    pdf.add_page()
    _letterhead(pdf)
    _title(pdf, words["certificate_title"])
    start, end = session_period(facts, learner, issuer.tz)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def paragraph(
        value: str, style: str = "", size: float = 10.5, gap: float = 3.0, indent: float = 0
    ) -> None:
        pdf.set_font(FONT, style, size)
        pdf.set_x(pdf.l_margin + indent)
        _text(pdf, value, width - indent, 5.6)
        pdf.ln(gap)

    paragraph(text["undersigned"].format(representative=o.legal_representative, organisation=o.org_name))
    paragraph(text["certifies"])
    paragraph(
        text["learner"].format(learner=learner.full_name, employer=learner.employer or EMPTY_LINE), indent=8
    )
    paragraph(text["followed"].format(training=facts.training_name), indent=8, gap=5)
    paragraph(text["nature"], gap=1.5)
    for nature, label in words["natures"].items():
        paragraph(f"{TICK if nature == o.nature else BOX}  {label}", indent=8, gap=0.6)
    pdf.ln(4)
    paragraph(text["dates"].format(start=start or "…", end=end or "…"))
    paragraph(text["duration"].format(duration=hours_minutes(learner.total_seconds)), gap=6)
    paragraph(text["commitment"], size=9, gap=8)
    _signature(pdf, [_signed_text(issuer, text["signed"])], text["stamp"])
    return bytes(pdf.output())


RENDERERS: dict[str, Callable[[Issuer, SessionFacts, LearnerRecord], bytes]] = {
    "attestation": render_attestation,
    "certificate": render_certificate,
}


# -- files ---------------------------------------------------------------------------------


_ASCII_LETTERS = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
     "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"}
)  # fmt: skip


def _safe(text: str) -> str:
    """ASCII letters, digits and dashes: "Élodie" -> "Elodie", "O'Neil Œ" -> "O-Neil-OE"."""
    text = text.translate(_ASCII_LETTERS)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")[:60]


def document_name(kind: str, learner: LearnerRecord, session_id: str) -> str:
    """attestation_Marchand_Elodie_S1.pdf, certificat_Marchand_Elodie_S1.pdf."""
    parts = [KIND_FILE_PREFIX[kind], _safe(learner.last_name), _safe(learner.first_name), _safe(session_id)]
    if not _safe(learner.last_name) and not _safe(learner.first_name):
        parts[1:3] = [_safe(learner.email.split("@")[0]) or _safe(learner.user_id) or "learner"]
    return "_".join(p for p in parts if p) + ".pdf"


def session_documents(
    session: Session,
    scope: Scope,
    session_id: str,
    options: AttestationOptions,
    tz: tzinfo,
    signed_on: date | None = None,
    user_ids: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """(entry name, PDF bytes) of every document, learner by learner. Everything is checked
    before the first document is made (scope, options, images, players)."""
    issuer = load_issuer(session, options, tz, signed_on)
    facts, learners = gather(session, scope, session_id, options.employer_field, user_ids)
    kinds = tuple(kinds or options.documents)
    total = len(learners) * len(kinds)
    return _documents(issuer, facts, learners, kinds, total, on_progress)


# Above this many documents, they are made by worker processes (one per core, at most
# MAX_WORKERS), in chunks of CHUNK_LEARNERS learners, and written in the same order.
PARALLEL_ABOVE = 40
MAX_WORKERS = 4
CHUNK_LEARNERS = 20


def _render_chunk(issuer: Issuer, facts: SessionFacts, jobs: list[tuple[str, LearnerRecord]]) -> list[bytes]:
    return [RENDERERS[kind](issuer, facts, learner) for kind, learner in jobs]


def _workers() -> int:
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def _documents(issuer, facts, learners, kinds, total, on_progress) -> Iterator[tuple[str, bytes]]:
    used: set[str] = set()
    jobs: list[tuple[str, str, LearnerRecord]] = []
    for learner in learners:
        for kind in kinds:
            name = document_name(kind, learner, facts.session_id)
            if name in used:  # two learners with the same name: tell them apart by id
                name = name[:-4] + f"_{_safe(learner.user_id)}.pdf"
            used.add(name)
            jobs.append((name, kind, learner))
    chunks = [
        jobs[i : i + CHUNK_LEARNERS * len(kinds)] for i in range(0, len(jobs), CHUNK_LEARNERS * len(kinds))
    ]
    done = 0
    for chunk, documents in zip(chunks, _rendered(issuer, facts, chunks, total), strict=True):
        for (name, _, _), data in zip(chunk, documents, strict=True):
            yield name, data
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)


def _rendered(issuer, facts, chunks, total) -> Iterator[list[bytes]]:
    """Each chunk's documents, in order: in worker processes for a large session when the
    process may have children (a daemonic Celery worker may not), else here."""
    workers = _workers()
    if total > PARALLEL_ABOVE and workers > 1 and not multiprocessing.current_process().daemon:
        # Fork only a single-threaded process: a fork of a threaded one (a job thread of the web
        # server, jobs/background.py) may inherit a lock another thread holds and hang (issue 23).
        single = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if single else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(_render_chunk, issuer, facts, [(kind, learner) for _, kind, learner in c])
                for c in chunks
            ]
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
        return
    for chunk in chunks:
        yield _render_chunk(issuer, facts, [(kind, learner) for _, kind, learner in chunk])


def write_session_zip(
    session: Session,
    scope: Scope,
    session_id: str,
    options: AttestationOptions,
    tz: tzinfo,
    target: str | os.PathLike[str],
    signed_on: date | None = None,
    user_ids: Iterable[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write every document into a ZIP at target, complete or absent; the number of documents."""
    documents = session_documents(
        session, scope, session_id, options, tz, signed_on, user_ids, on_progress=on_progress
    )
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    count = 0
    day = signed_on or datetime.now(tz).date()
    stamp = (day.year, day.month, day.day, 12, 0, 0)
    try:
        with os.fdopen(handle, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            for name, data in documents:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_STORED  # PDFs are compressed already
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
                count += 1
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def zip_bytes(*args, **kwargs) -> bytes:
    """write_session_zip into memory (tests, small sessions)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "documents.zip"
        write_session_zip(*args, target=path, **kwargs)
        return path.read_bytes()


__all__ = [
    "ConnectionLine",
    "Issuer",
    "LearnerRecord",
    "ModuleLine",
    "SessionFacts",
    "can_make_documents",
    "document_name",
    "gather",
    "load_issuer",
    "render_attestation",
    "render_certificate",
    "require_session",
    "session_documents",
    "session_period",
    "session_players",
    "write_session_zip",
    "zip_bytes",
]
