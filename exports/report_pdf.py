"""One-page report PDFs of the compliance pack (SPEC §10: the BPF's cadre F-1, Qualiopi's
indicator 2), drawn with the attestations' document (exports/attestations.py: fonts, letterhead,
tables, footer, "Page X / Y") and the organisation block saved for them (§7's defaults).

A report is not an attestation: it is made even when the organisation block is not filled in
(its letterhead then shows what is there, and nothing when the name is empty); the signature
date is today in the platform's time zone unless given, so a test pins it and gets the same
bytes each time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, tzinfo

from sqlalchemy.orm import Session

from exports.attestation_options import AttestationError, load_defaults, load_image
from exports.attestations import Issuer, _Document, _letterhead, _title


def report_issuer(session: Session, tz: tzinfo, language: str, signed_on: date | None = None) -> Issuer:
    """The saved organisation block, images and footer, in the report's language."""
    options = replace(load_defaults(session), language=language)
    try:
        logo = load_image(session, options.logo, "logo")
        stamp = load_image(session, options.stamp, "stamp and signature")
    except AttestationError:  # an image gone from the store: the report is made without it
        logo = stamp = None
    return Issuer(
        options=options, logo=logo, stamp=stamp, signed_on=signed_on or datetime.now(tz).date(), tz=tz
    )


def start_report(issuer: Issuer, title: str, subtitle: str, texts: list[str]) -> _Document:
    """A new A4 document with its letterhead (when the organisation has a name) and title."""
    pdf = _Document(
        issuer, title, title, [title, subtitle, *texts, issuer.options.org_name, issuer.options.footer]
    )
    pdf.alias_nb_pages()
    pdf.add_page()
    if issuer.options.org_name.strip():
        _letterhead(pdf)
    _title(pdf, title, subtitle)
    return pdf


__all__ = ["report_issuer", "start_report"]
