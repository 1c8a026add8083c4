"""Settings read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


@dataclass
class Settings:
    """Everything the app reads from its environment, resolved once."""

    instance_path: Path = DEFAULT_INSTANCE
    database_url: str = ""
    timezone: str = "Europe/Paris"
    secret_key: str = ""
    smtp_url: str = ""
    mail_from: str = ""
    # Address of the site in emailed links (e.g. https://stats.example.org); empty: the
    # address the browser used.
    base_url: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _secret_key(instance: Path) -> str:
    """The secret from the environment, else one generated once and kept in instance/."""
    key = os.environ.get("LEARNSTATS_SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(overrides: dict | None = None) -> Settings:
    """Build settings from LEARNSTATS_* variables, then apply overrides (tests)."""
    overrides = dict(overrides or {})
    instance = Path(
        overrides.pop("instance_path", None) or os.environ.get("LEARNSTATS_INSTANCE", DEFAULT_INSTANCE)
    )
    instance.mkdir(parents=True, exist_ok=True)
    tz_name = overrides.pop("timezone", None) or os.environ.get("LEARNSTATS_TIMEZONE", "Europe/Paris")
    ZoneInfo(tz_name)  # fail early on an unknown zone
    settings = Settings(
        instance_path=instance,
        database_url=overrides.pop("database_url", None)
        or os.environ.get("LEARNSTATS_DATABASE_URL")
        or f"sqlite:///{instance / 'learnstats.sqlite3'}",
        timezone=tz_name,
        secret_key=overrides.pop("secret_key", None) or _secret_key(instance),
        smtp_url=overrides.pop("smtp_url", None) or os.environ.get("LEARNSTATS_SMTP_URL", ""),
        mail_from=overrides.pop("mail_from", None)
        or os.environ.get("LEARNSTATS_MAIL_FROM", "learnstats@localhost"),
        base_url=overrides.pop("base_url", None) or os.environ.get("LEARNSTATS_BASE_URL", ""),
    )
    settings.extra = overrides
    return settings
