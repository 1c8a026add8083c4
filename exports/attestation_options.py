"""What an OPCO attestation or certificat de réalisation says about its issuer (SPEC §7).

The organisation block, the images, the declared duration, the footer, the language, which
documents, the certificat's nature of action and the employer custom field: edited in the
session page's "Generate" dialog or given to `flask --app app export-attestations`, checked here
(`AttestationOptions.problems()`), and kept for next time (`save_defaults` / `load_defaults`,
table platform_settings): for the session by its Generate, as the platform's defaults by an
admin's Generate or `--save-defaults` (docs/decisions.md, "Attestation defaults"). Images are PNG or JPEG of at most
2 MB, stored once by the SHA-256 of their bytes (table stored_images): options and queued jobs
name them by digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.models import PlatformSetting, StoredImage
from exports.formatting import N_, fmt_int, hours_minutes, join_reasons
from exports.formatting import gettext as _

SETTINGS_KEY = "opco_attestations"
MAX_IMAGE_BYTES = 2 * 1024 * 1024
# Issue 23: an image's size is read from its header, and one over MAX_IMAGE_PIXELS is refused
# before it is decoded (a 657 KB 13000 x 13000 PNG took 600 MiB to decode; 30000 x 30000 was a
# 500). An accepted image larger than IMAGE_MAX_SIDE on a side is stored scaled down to it:
# 600 px is 300 dpi over 5 cm, more than a logo or a stamp on an attestation needs (two
# 6300 x 6300 images made each attestation take 6 s).
MAX_IMAGE_PIXELS = 25_000_000
IMAGE_MAX_SIDE = 600
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
KINDS = ("attestation", "certificate", "both")
LANGUAGES = ("fr", "en")
# The certificat's "nature de l'action", in the model's order; the first is the default.
NATURES = ("formation", "bilan", "vae", "apprentissage")
_DIGEST = re.compile(r"[0-9a-f]{64}")
# Each text option as the dialog names it, for the sentences that say what is wrong.
_LABELS = {
    "org_name": N_("the training organisation's name"),
    "address": N_("the training organisation's address"),
    "legal_representative": N_("the legal representative"),
    "nda": N_("the declaration number (NDA)"),
    "siret": N_("the SIRET"),
    "place": N_("the place of signature"),
    "footer": N_("the footer"),
    "employer_field": N_("the employer's custom field"),
}
_TEXT_LIMITS = {
    "org_name": 200,
    "address": 400,
    "legal_representative": 200,
    "nda": 40,
    "siret": 40,
    "place": 120,
    "footer": 400,
    "employer_field": 200,
}


class AttestationError(LearnstatsError, ValueError):
    """Input the documents cannot be made from; the message says what and where."""


@dataclass(frozen=True)
class AttestationOptions:
    """The issuer's block and the generation choices. Images are digests of stored_images."""

    org_name: str = ""
    address: str = ""
    legal_representative: str = ""
    nda: str = ""
    siret: str = ""
    place: str = ""
    duration_hours: float | None = None
    footer: str = ""
    language: str = "fr"
    kind: str = "both"
    nature: str = "formation"
    employer_field: str = ""
    logo: str = ""
    stamp: str = ""

    def problems(self) -> list[str]:
        """Every reason these options cannot make documents, one sentence each (empty: fine)."""
        found = []
        for name in ("org_name", "address", "legal_representative", "place"):
            if not getattr(self, name).strip():
                found.append(_("%(what)s is required", what=_(_LABELS[name])))
        for name, limit in _TEXT_LIMITS.items():
            if len(getattr(self, name)) > limit:
                found.append(_("%(what)s: at most %(limit)d characters", what=_(_LABELS[name]), limit=limit))
        if self.duration_hours is None:
            found.append(_("the declared duration of the training sessions is required (hours, more than 0)"))
        elif not math.isfinite(self.duration_hours) or self.duration_hours <= 0:
            found.append(
                _(
                    "the declared duration must be more than 0 hours, not %(duration)s",
                    duration=format_hours(self.duration_hours),
                )
            )
        elif self.duration_hours > 10_000:
            found.append(_("the declared duration must be at most 10,000 hours"))
        if self.siret and not re.fullmatch(r"\d{14}", self.siret):
            found.append(_("SIRET %(siret)s: a SIRET is 14 digits", siret=self.siret))
        for name, value, choices in (
            (N_("language"), self.language, LANGUAGES),
            (N_("documents"), self.kind, KINDS),
            (N_("nature of the action"), self.nature, NATURES),
        ):
            if value not in choices:
                found.append(
                    _(
                        "%(what)s %(value)r: choose one of %(choices)s",
                        what=_(name),
                        value=value,
                        choices=", ".join(choices),
                    )
                )
        for name in (N_("logo"), N_("stamp")):
            digest = getattr(self, name)
            if digest and not _DIGEST.fullmatch(digest):
                found.append(_("%(what)s: not a stored image", what=_(name)))
        return found

    def check(self) -> AttestationOptions:
        problems = self.problems()
        if problems:
            raise AttestationError(join_reasons(problems))
        return self

    @property
    def documents(self) -> tuple[str, ...]:
        """The kinds of document to make, attestations first."""
        return ("attestation", "certificate") if self.kind == "both" else (self.kind,)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> AttestationOptions:
        """Options from saved or posted values: unknown keys ignored, texts stripped, SIRET
        spaces removed, the duration read from a number or a text ("7,5" or "7.5")."""
        data = dict(data or {})
        values: dict = {}
        for f in fields(cls):
            if f.name not in data or data[f.name] is None:
                continue
            value = data[f.name]
            if f.name == "duration_hours":
                values[f.name] = parse_hours(value)
            else:
                values[f.name] = str(value).strip()
        if "siret" in values:
            values["siret"] = re.sub(r"[\s.]", "", values["siret"])
        for name in ("language", "kind", "nature"):
            if name in values:
                values[name] = values[name].lower() or getattr(cls, name)
        return cls(**values)

    def merged(self, **changes) -> AttestationOptions:
        """These options with the given (not None) values replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def parse_hours(value) -> float | None:
    """Hours from a number or a text with a decimal point or comma; AttestationError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise AttestationError(_("the declared duration must be a number of hours"))
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(",", ".").replace(" ", "")
    try:
        return float(text)
    except ValueError:
        raise AttestationError(
            _("the declared duration %(value)r is not a number of hours", value=value)
        ) from None


def format_hours(hours: float) -> str:
    """Hours as the documents write durations: 7.5 -> "7 h 30" (nearest minute)."""
    if not math.isfinite(hours):
        return str(hours)
    sign = "-" if hours < 0 else ""
    return sign + hours_minutes(abs(hours) * 3600)


# -- images ----------------------------------------------------------------------------------


def check_image(data: bytes, what: str) -> str:
    """The image type ("png" or "jpeg") of an upload; AttestationError saying what is wrong."""
    if not data:
        raise AttestationError(_("%(what)s: the file is empty", what=what))
    if len(data) > MAX_IMAGE_BYTES:
        raise AttestationError(
            _(
                "%(what)s: the file is over 2 MB (%(size)s bytes); images must be at most 2 MB",
                what=what,
                size=fmt_int(len(data)),
            )
        )
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    else:
        raise AttestationError(_("%(what)s: not a PNG or JPEG image", what=what))
    try:
        with Image.open(io.BytesIO(data)) as image:  # the header only: nothing decoded yet
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own check, far above MAX_IMAGE_PIXELS
        if kind != "png" or len(data) < 24:
            raise AttestationError(
                _(
                    "%(what)s: the image is larger than %(pixels)s pixels",
                    what=what,
                    pixels=fmt_int(MAX_IMAGE_PIXELS),
                )
            ) from None
        width, height = struct.unpack(">II", data[16:24])  # the PNG header's IHDR
    except Exception as error:  # every Pillow error is a sentence, never a 500
        raise _corrupt(what, kind, error) from None
    if width * height > MAX_IMAGE_PIXELS or width < 1 or height < 1:
        raise AttestationError(
            _(
                "%(what)s: %(width)d × %(height)d pixels is not a usable image size",
                what=what,
                width=width,
                height=height,
            )
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))  # a JPEG decodes at a reduced scale
            image.load()
    except Exception as error:
        raise _corrupt(what, kind, error) from None
    return kind


def _corrupt(what: str, kind: str, error: Exception) -> AttestationError:
    # Pillow's messages may name Python objects ("<_io.BytesIO object at 0x...>"): left out.
    detail = re.sub(r"\s*<[^>]*>", "", str(error)).strip() or type(error).__name__
    return AttestationError(
        _(
            "%(what)s: the %(kind)s image is corrupt or truncated (%(error)s)",
            what=what,
            kind=kind.upper(),
            error=detail,
        )
    )


def fitted_image(data: bytes, kind: str) -> bytes:
    """The image as stored: unchanged when no side is over IMAGE_MAX_SIDE, else scaled down to
    fit (same format; a PNG keeps its transparency)."""
    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) <= IMAGE_MAX_SIDE:
            return data
        if kind == "jpeg":
            image.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
        image.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if kind == "jpeg":
            image.convert("RGB").save(out, format="JPEG", quality=90)
        else:
            image.save(out, format="PNG", optimize=True)
        return out.getvalue()


def store_image(session: Session, data: bytes, what: str, now: datetime | None = None) -> str:
    """Check and store an image; its digest (stored once, however often it is uploaded)."""
    kind = check_image(data, what)
    data = fitted_image(data, kind)
    digest = hashlib.sha256(data).hexdigest()
    if session.get(StoredImage, digest) is None:
        session.add(
            StoredImage(
                digest=digest,
                media_type=IMAGE_TYPES[kind],
                data=data,
                created_at=now or datetime.now(UTC).replace(tzinfo=None),
            )
        )
        session.flush()
    return digest


def load_image(session: Session, digest: str, what: str) -> bytes | None:
    """A stored image's bytes (None for no digest); AttestationError when it is gone."""
    if not digest:
        return None
    image = session.get(StoredImage, digest) if _DIGEST.fullmatch(digest) else None
    if image is None:
        raise AttestationError(_("%(what)s: the stored image is missing; upload it again", what=what))
    return image.data


# -- saved defaults --------------------------------------------------------------------------


def session_key(session_id: str) -> str:
    """The platform_settings key of one session's saved options (ids are at most 64 characters)."""
    return f"{SETTINGS_KEY}:session:{session_id}"


def _read(session: Session, key: str) -> AttestationOptions | None:
    text = session.scalar(select(PlatformSetting.value).where(PlatformSetting.key == key))
    if not text:
        return None
    try:
        return AttestationOptions.from_dict(json.loads(text))
    except (ValueError, TypeError):
        return None


def load_defaults(session: Session, session_id: str | None = None) -> AttestationOptions:
    """The options saved for this session (its last Generate) when there are some, else the
    platform's defaults, else the dataclass defaults (docs/decisions.md, "Attestation defaults")."""
    if session_id:
        own = _read(session, session_key(session_id))
        if own is not None:
            return own
    return _read(session, SETTINGS_KEY) or AttestationOptions()


def save_defaults(
    session: Session,
    options: AttestationOptions,
    user_id: str | None = None,
    now: datetime | None = None,
    session_id: str | None = None,
) -> None:
    """Keep options for one session (session_id) or as the platform's defaults (no session_id:
    the callers allow it to admins and the command line only). The caller commits."""
    key = session_key(session_id) if session_id else SETTINGS_KEY
    row = session.get(PlatformSetting, key)
    if row is None:
        row = PlatformSetting(key=key)
        session.add(row)
    row.value = json.dumps(options.to_dict(), ensure_ascii=False, sort_keys=True)
    row.updated_at = now or datetime.now(UTC).replace(tzinfo=None)
    row.updated_by = user_id
    session.flush()


__all__ = [
    "IMAGE_TYPES",
    "KINDS",
    "LANGUAGES",
    "MAX_IMAGE_BYTES",
    "NATURES",
    "AttestationError",
    "AttestationOptions",
    "check_image",
    "format_hours",
    "load_defaults",
    "load_image",
    "parse_hours",
    "save_defaults",
    "session_key",
    "store_image",
]


# -- the demo platform's values --------------------------------------------------------------

DEMO_OPTIONS = AttestationOptions(
    org_name="Learnstats Formation SAS",
    address="12 rue de l'Œuvre\n69002 Lyon",
    legal_representative="Hélène Dupré",
    nda="84 69 12345 69",
    siret="12345678900012",
    place="Lyon",
    duration_hours=7.0,
    footer=(
        "Learnstats Formation SAS — organisme de formation certifié « Qualiopi » — "
        "capital de 10 000 € — exemple de démonstration"
    ),
)


def _demo_images() -> tuple[bytes, bytes]:
    """A logo and a stamp-and-signature drawn for the demo (PNG, deterministic)."""
    from pathlib import Path

    from PIL import ImageDraw, ImageFont

    fonts = Path(__file__).resolve().parent.parent / "assets" / "fonts"
    bold = ImageFont.truetype(str(fonts / "DejaVuSans-Bold.ttf"), 64)
    regular = ImageFont.truetype(str(fonts / "DejaVuSans.ttf"), 30)
    logo = Image.new("RGBA", (640, 220), (255, 255, 255, 0))
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((10, 20, 190, 200), radius=36, fill=(13, 110, 253))
    draw.text((100, 110), "LF", font=bold, fill="white", anchor="mm")
    draw.text((220, 70), "Learnstats", font=bold, fill=(33, 37, 41))
    draw.text((224, 150), "Formation · Lyon", font=regular, fill=(95, 101, 110))
    stamp = Image.new("RGBA", (520, 300), (255, 255, 255, 0))
    draw = ImageDraw.Draw(stamp)
    blue = (37, 64, 160, 230)
    draw.ellipse((20, 20, 280, 280), outline=blue, width=8)
    draw.ellipse((44, 44, 256, 256), outline=blue, width=3)
    small = ImageFont.truetype(str(fonts / "DejaVuSans-Bold.ttf"), 26)
    draw.text((150, 125), "LEARNSTATS", font=small, fill=blue, anchor="mm")
    draw.text((150, 165), "FORMATION", font=small, fill=blue, anchor="mm")
    draw.text((150, 205), "Lyon", font=regular, fill=blue, anchor="mm")
    ink = (20, 20, 60, 255)
    steps = 240
    points = [
        (
            250 + 230 * t + 22 * math.cos(12 * math.pi * t),
            185 - 38 * math.sin(6 * math.pi * t) * (1.1 - t) - 14 * math.sin(12 * math.pi * t),
        )
        for t in (i / steps for i in range(steps + 1))
    ]
    draw.line(points, fill=ink, width=4, joint="curve")
    draw.line([(240, 250), (500, 232)], fill=ink, width=4)
    out = []
    for image in (logo, stamp):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        out.append(buffer.getvalue())
    return out[0], out[1]


def save_demo_defaults(session: Session, now: datetime) -> AttestationOptions:
    """The demo platform's attestation defaults, images included (demo-data calls it; `now`
    (naive UTC) keeps the demo deterministic)."""
    logo, stamp = _demo_images()
    options = replace(
        DEMO_OPTIONS,
        logo=store_image(session, logo, "demo logo", now),
        stamp=store_image(session, stamp, "demo stamp", now),
    )
    save_defaults(session, options, now=now)
    return options
