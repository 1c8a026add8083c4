"""Qualiopi indicator 2 (SPEC §10) as a one-page PDF fit to publish: the organisation block of
the attestations, the training (or "all trainings"), the period and the volume, then the four
figures — completion, success and drop-out rates, satisfaction with its number of answers —
each with the counts it comes from, and their definitions in small print (data/qualiopi.py).
French by default, English on request.
"""

from __future__ import annotations

from datetime import date, tzinfo

from sqlalchemy.orm import Session

from data.qualiopi import QualiopiResults, qualiopi_results
from data.scope import Scope
from exports.attestations import FONT, HEAD_FILL, INK, MUTED, RULE
from exports.formatting import NP_, pgettext_in, round_half_up
from exports.report_pdf import report_issuer, start_report

WORDS = {
    "title": NP_("document", "Results of our trainings"),
    "subtitle": NP_("document", "Qualiopi indicator 2 · period from {start} to {end}"),
    "training": NP_("document", "Training: {name}"),
    "all": NP_("document", "All our trainings"),
    "volume": NP_("document", "{learners} learners trained in the period ({pairs} enrollments)"),
    "completion": NP_("document", "Completion rate"),
    "success": NP_("document", "Success rate"),
    "drop_out": NP_("document", "Drop-out rate"),
    "satisfaction": NP_("document", "Satisfaction"),
    "of": NP_("document", "{part} of {whole} learners"),
    "answers": NP_("document", "{count} answers"),
    "none": NP_("document", "not measured yet"),
    "definitions": NP_(
        "document",
        "Learners: enrolled with activity in the period. Completion rate: learners who completed "
        "the training ÷ learners whose training ended in the period (completed, session ended or "
        "inactive for 30 days). Success rate: passed ÷ completed. Drop-out rate: not completed, "
        "session ended or inactive for 30 days ÷ learners whose training ended. Satisfaction: "
        "mean of the scores out of 10 answered in the period.",
    ),
    "made": NP_("document", "Figures computed by Learnstats on {date} from the learning platform's records."),
}


def _words(language: str) -> dict[str, str]:
    return {key: pgettext_in(language, "document", text) for key, text in WORDS.items()}


def _number(value: float, language: str) -> str:
    text = f"{round_half_up(value, 1):.1f}"
    return text.replace(".", ",") if language == "fr" else text


def rate_text(value: float | None, language: str) -> str:
    if value is None:
        return "–"
    return _number(value, language) + "\u00a0%"


def figures(results: QualiopiResults, language: str) -> list[tuple[str, str, str]]:
    """(label, value, detail) of the four figures, in the file's language."""
    w = _words(language)
    mean = results.satisfaction_mean
    return [
        (
            w["completion"],
            rate_text(results.completion_rate, language),
            w["of"].format(part=results.completed, whole=results.ended),
        ),
        (
            w["success"],
            rate_text(results.success_rate, language),
            w["of"].format(part=results.passed, whole=results.completed),
        ),
        (
            w["drop_out"],
            rate_text(results.drop_out_rate, language),
            w["of"].format(part=results.dropped, whole=results.ended),
        ),
        (
            w["satisfaction"],
            f"{_number(mean, language)} / 10" if mean is not None else "–",
            w["answers"].format(count=results.satisfaction_answers) if mean is not None else w["none"],
        ),
    ]


def qualiopi_pdf_bytes(
    session: Session,
    scope: Scope,
    start: date,
    end: date,
    tz: tzinfo,
    training_id: str | None = None,
    language: str = "fr",
    signed_on: date | None = None,
) -> bytes:
    """The one-page PDF (A4, portrait) of indicator 2 for the training (None: all of them)."""
    results = qualiopi_results(session, scope, start, end, tz, training_id)
    w = _words(language)
    issuer = report_issuer(session, tz, language, signed_on)
    subtitle = w["subtitle"].format(start=f"{start:%d/%m/%Y}", end=f"{end:%d/%m/%Y}")
    which = w["training"].format(name=results.training_name) if results.training_id else w["all"]
    pdf = start_report(issuer, w["title"], subtitle, [which, w["definitions"]])
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 8, which, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        6,
        w["volume"].format(learners=results.learners, pairs=results.pairs),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_text_color(*INK)
    pdf.ln(6)
    width = (pdf.w - pdf.l_margin - pdf.r_margin - 6) / 2
    height = 34
    top = pdf.get_y()
    for index, (label, value, detail) in enumerate(figures(results, language)):
        x = pdf.l_margin + (index % 2) * (width + 6)
        y = top + (index // 2) * (height + 6)
        pdf.set_fill_color(*HEAD_FILL)
        pdf.set_draw_color(*RULE)
        pdf.rect(x, y, width, height, style="DF")
        pdf.set_xy(x, y + 4)
        pdf.set_font(FONT, "", 10)
        pdf.cell(width, 5, label, align="C")
        pdf.set_xy(x, y + 11)
        pdf.set_font(FONT, "B", 22)
        pdf.cell(width, 11, value, align="C")
        pdf.set_xy(x, y + 25)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(width, 5, detail, align="C")
        pdf.set_text_color(*INK)
    pdf.set_xy(pdf.l_margin, top + 2 * (height + 6) + 4)
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 4, w["definitions"])
    pdf.ln(2)
    pdf.multi_cell(0, 4, w["made"].format(date=f"{issuer.signed_on:%d/%m/%Y}"))
    pdf.set_text_color(*INK)
    return bytes(pdf.output())


def qualiopi_filename(training_id: str | None, start: date, end: date) -> str:
    from exports.attestations import _safe

    which = _safe(training_id) if training_id else "all"
    return f"qualiopi-{which or 'training'}-{start:%Y-%m-%d}-{end:%Y-%m-%d}.pdf"


__all__ = ["figures", "qualiopi_filename", "qualiopi_pdf_bytes", "rate_text"]
