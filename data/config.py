"""Settings read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    # Memoized data functions (data/cache.py): "simple" (in each process), "redis" (shared,
    # at redis_url) or "null" (off).
    cache: str = "simple"
    redis_url: str = ""
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


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and what is wrong."""


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"LEARNSTATS_TIMEZONE: {name!r} is not a known time zone (e.g. Europe/Paris, UTC)"
        ) from None


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        raise SettingsError(
            f"LEARNSTATS_DATABASE_URL: {url!r} is not a usable database URL ({error}); "
            "e.g. sqlite:////path/file.sqlite3 or postgresql+psycopg://user:password@127.0.0.1/learnstats"
        ) from None


CACHE_TYPES = ("simple", "redis", "null")


def _cache_type(name: str, redis_url: str) -> str:
    """LEARNSTATS_CACHE, defaulting to redis when LEARNSTATS_REDIS_URL is set, else simple."""
    if redis_url:
        from urllib.parse import urlsplit

        if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise SettingsError(
                f"LEARNSTATS_REDIS_URL: {redis_url!r} is not a Redis URL; "
                "e.g. redis://127.0.0.1:6379/0 or rediss://user:password@host:6380/0"
            )
    kind = (name or ("redis" if redis_url else "simple")).strip().lower()
    if kind not in CACHE_TYPES:
        raise SettingsError(
            f"LEARNSTATS_CACHE: {name!r} is not a cache type; use simple (in each process, the "
            "default), redis (with LEARNSTATS_REDIS_URL) or null (off)"
        )
    if kind == "redis" and not redis_url:
        raise SettingsError(
            "LEARNSTATS_CACHE: 'redis' needs LEARNSTATS_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"
        )
    return kind


def load_settings(overrides: dict | None = None) -> Settings:
    """Build settings from LEARNSTATS_* variables, then apply overrides (tests)."""
    overrides = dict(overrides or {})
    instance = Path(
        overrides.pop("instance_path", None) or os.environ.get("LEARNSTATS_INSTANCE", DEFAULT_INSTANCE)
    )
    instance.mkdir(parents=True, exist_ok=True)
    tz_name = overrides.pop("timezone", None) or os.environ.get("LEARNSTATS_TIMEZONE", "Europe/Paris")
    _check_timezone(tz_name)
    database_url = (
        overrides.pop("database_url", None)
        or os.environ.get("LEARNSTATS_DATABASE_URL")
        or f"sqlite:///{instance / 'learnstats.sqlite3'}"
    )
    _check_database_url(database_url)
    redis_url = overrides.pop("redis_url", None) or os.environ.get("LEARNSTATS_REDIS_URL", "")
    cache = _cache_type(overrides.pop("cache", None) or os.environ.get("LEARNSTATS_CACHE", ""), redis_url)
    settings = Settings(
        instance_path=instance,
        database_url=database_url,
        timezone=tz_name,
        secret_key=overrides.pop("secret_key", None) or _secret_key(instance),
        smtp_url=overrides.pop("smtp_url", None) or os.environ.get("LEARNSTATS_SMTP_URL", ""),
        mail_from=overrides.pop("mail_from", None)
        or os.environ.get("LEARNSTATS_MAIL_FROM", "learnstats@localhost"),
        base_url=overrides.pop("base_url", None) or os.environ.get("LEARNSTATS_BASE_URL", ""),
        cache=cache,
        redis_url=redis_url,
    )
    settings.extra = overrides
    return settings
