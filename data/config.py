"""Settings read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from data.errors import LearnstatsError

if TYPE_CHECKING:
    from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


@dataclass
class Settings:
    """Everything the app reads from its environment, resolved once."""

    instance_path: Path = DEFAULT_INSTANCE
    database_url: str = ""
    timezone: str = "Europe/Paris"
    # LEARNSTATS_LANGUAGE: the interface's language when neither the user's choice nor the
    # browser's language says (auth/language.py): "fr" or "en".
    language: str = "fr"
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
    # Hardening (issue 10, docs/security.md). Failed sign-ins allowed per account and per
    # client address before sign-in is refused for a while (Flask-Limiter; in memory, or in
    # Redis at redis_url when it is set, shared by every worker).
    signin_limit_account: str = "5 per 15 minutes"
    signin_limit_address: str = "30 per 15 minutes"
    # A signed-in session ends after this many minutes without a request.
    idle_timeout_minutes: int = 480
    # Cookies sent over HTTPS only; None: on in production mode (LEARNSTATS_ENV=production).
    secure_cookies: bool = False
    # Hosts that emailed links may name when base_url is not set.
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]", "::1")
    # Production mode (LEARNSTATS_ENV=production, set by `make serve` and `make worker`): the
    # secret key must come from the environment, never generated.
    production: bool = False
    # LEARNSTATS_BEHIND_PROXY: trust the X-Forwarded-For/-Proto/-Host/-Port headers
    # of this many proxies in front of the app (werkzeug's ProxyFix); 0: trust none.
    behind_proxy: int = 0
    # Celery for background callbacks ("Receive by email"): the broker, else local
    # subprocesses (diskcache). LEARNSTATS_CELERY_BROKER_URL, else LEARNSTATS_REDIS_URL.
    celery_broker_url: str = ""
    celery_result_backend: str = ""
    # LEARNSTATS_XAPI_IDLE_MINUTES: xAPI statements more than this many minutes apart on a
    # module belong to two connections (SPEC §8).
    xapi_idle_minutes: int = 30
    # The LRS that sync-lrs reads by default and the periodic sync pulls every lrs_sync_minutes
    # (data/lrs.py, docs/xapi.md); no periodic sync without an endpoint. The password only
    # from the environment (LEARNSTATS_LRS_PASSWORD).
    lrs_endpoint: str = ""
    lrs_username: str = ""
    lrs_password: str = field(default="", repr=False)
    lrs_sync_minutes: int = 5
    # LEARNSTATS_AT_RISK_DAYS: SPEC §9's days without activity that make a learner at risk
    # when the page (or export-at-risk --days) says none.
    at_risk_days: int = 14
    # LEARNSTATS_MAX_REQUEST_MB: the largest request body accepted (issue 23): larger ones are
    # answered 413 before the body is read. Above the uploads' own limits (two 2 MB images,
    # base64, in one callback).
    max_request_mb: int = 8
    # LEARNSTATS_JOBS_MAX / LEARNSTATS_JOBS_PER_USER: background jobs (attestations, relevés,
    # "Receive by email") running or queued at once on the platform and per user (issue 23,
    # jobs/slots.py); one more is refused at once with a sentence.
    jobs_max: int = 4
    jobs_per_user: int = 1
    # LEARNSTATS_PERIODIC_TICK_SECONDS: how often each scheduler looks at the periodic jobs'
    # schedule (jobs/periodic.py: Celery beat's tick, the web processes' thread); a "Send now"
    # of a scheduled report goes out within one tick.
    periodic_tick_seconds: int = 30
    extra: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# Where create_app keeps the Settings in the Flask config; read them with current_settings() or
# settings_of(server), never through the config dictionary.
SETTINGS_KEY = "LEARNSTATS"


def current_settings() -> Settings:
    """The settings of the app of the current app context (a request, a CLI command, a job
    inside server.app_context())."""
    from flask import current_app

    return current_app.config[SETTINGS_KEY]


def settings_of(server: Flask) -> Settings:
    """The settings of this Flask server (outside its app context: background jobs, gunicorn)."""
    return server.config[SETTINGS_KEY]


def settings_if_any() -> Settings | None:
    """The current app's settings, or None outside an app context or before create_app set them."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    settings = current_app.config.get(SETTINGS_KEY)
    return settings if isinstance(settings, Settings) else None


MIN_SECRET_KEY_LENGTH = 32


def _secret_key(instance: Path, production: bool) -> str:
    """The secret from the environment, else (not in production mode) one generated once and
    kept in instance/."""
    key = os.environ.get("LEARNSTATS_SECRET_KEY", "").strip()
    if production:
        if len(key) < MIN_SECRET_KEY_LENGTH:
            what = "is not set" if not key else f"is too short ({len(key)} characters)"
            raise SettingsError(
                f"LEARNSTATS_SECRET_KEY {what}: production mode (LEARNSTATS_ENV=production, as "
                f"`make serve` and `make worker` run) needs a random key of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters, the same for every web and Celery worker; e.g. "
                "python3 -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return key
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


class SettingsError(LearnstatsError, ValueError):
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
LANGUAGES = ("fr", "en")
ENVIRONMENTS = ("development", "production")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _environment(name: str) -> bool:
    """LEARNSTATS_ENV: True for production."""
    kind = (name or "development").strip().lower()
    if kind not in ENVIRONMENTS:
        raise SettingsError(
            f"LEARNSTATS_ENV: {name!r} is not an environment; use development (the default, "
            "`make run`) or production (`make serve`, `make worker`)"
        )
    return kind == "production"


def _proxy_count(value: str) -> int:
    """LEARNSTATS_BEHIND_PROXY: true/1 (one proxy), false/0/empty (none), or a count."""
    text = (value or "").strip().lower()
    if text in _FALSE:
        return 0
    if text in _TRUE:
        return 1
    if text.isdigit() and int(text) <= 10:
        return int(text)
    raise SettingsError(
        f"LEARNSTATS_BEHIND_PROXY: {value!r} is not understood; use 1 (or true) when one reverse "
        "proxy (nginx, a load balancer) is in front of the app, 0 (or false) when none"
    )


def _check_broker(url: str, name: str) -> None:
    from urllib.parse import urlsplit

    if url and urlsplit(url).scheme not in ("redis", "rediss", "amqp", "amqps", "sqs", "memory"):
        raise SettingsError(
            f"{name}: {url!r} is not a Celery broker URL; e.g. redis://127.0.0.1:6379/0 "
            "or amqp://user:password@host:5672//"
        )


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
    language = (
        (overrides.pop("language", None) or os.environ.get("LEARNSTATS_LANGUAGE", "") or "fr").strip().lower()
    )
    if language not in LANGUAGES:
        raise SettingsError(
            f"LEARNSTATS_LANGUAGE: {language!r} is not a language of Learnstats; use fr or en"
        )
    database_url = (
        overrides.pop("database_url", None)
        or os.environ.get("LEARNSTATS_DATABASE_URL")
        or f"sqlite:///{instance / 'learnstats.sqlite3'}"
    )
    _check_database_url(database_url)
    redis_url = overrides.pop("redis_url", None) or os.environ.get("LEARNSTATS_REDIS_URL", "")
    cache = _cache_type(overrides.pop("cache", None) or os.environ.get("LEARNSTATS_CACHE", ""), redis_url)
    production = overrides.pop("production", None)
    if production is None:
        production = _environment(os.environ.get("LEARNSTATS_ENV", ""))
    behind_proxy = overrides.pop("behind_proxy", None)
    if behind_proxy is None:
        behind_proxy = _proxy_count(os.environ.get("LEARNSTATS_BEHIND_PROXY", ""))
    broker = overrides.pop("celery_broker_url", None)
    if broker is None:
        broker = os.environ.get("LEARNSTATS_CELERY_BROKER_URL", "").strip()
        _check_broker(broker, "LEARNSTATS_CELERY_BROKER_URL")
        broker = broker or redis_url
    backend = overrides.pop("celery_result_backend", None)
    if backend is None:
        backend = os.environ.get("LEARNSTATS_CELERY_RESULT_BACKEND", "").strip()
    settings = Settings(
        instance_path=instance,
        database_url=database_url,
        timezone=tz_name,
        language=language,
        secret_key=overrides.pop("secret_key", None) or _secret_key(instance, production),
        smtp_url=overrides.pop("smtp_url", None) or os.environ.get("LEARNSTATS_SMTP_URL", ""),
        mail_from=overrides.pop("mail_from", None)
        or os.environ.get("LEARNSTATS_MAIL_FROM", "learnstats@localhost"),
        base_url=overrides.pop("base_url", None) or os.environ.get("LEARNSTATS_BASE_URL", ""),
        cache=cache,
        redis_url=redis_url,
        production=bool(production),
        behind_proxy=int(behind_proxy),
        celery_broker_url=broker,
        celery_result_backend=(backend or broker) if broker else "",
    )
    _hardening(settings, overrides)
    idle = overrides.pop("xapi_idle_minutes", None)
    settings.xapi_idle_minutes = _minutes(
        "LEARNSTATS_XAPI_IDLE_MINUTES",
        str(idle) if idle is not None else os.environ.get("LEARNSTATS_XAPI_IDLE_MINUTES", ""),
        default=30,
    )
    _lrs(settings, overrides)
    _limits(settings, overrides)
    settings.extra = overrides
    return settings


def _minutes(name: str, value: str, default: int) -> int:
    text = value.strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{name}: {value!r} is not a whole number of minutes (1 or more)")
    return int(text)


_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise SettingsError(f"{name}: {value!r} is not understood; use true or false")


def _rate(name: str, value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(
            f"{name}: {value!r} is not a rate limit; e.g. '5 per 15 minutes' or '30/hour'"
        ) from None
    return value


def _hardening(settings: Settings, overrides: dict) -> None:
    """The sign-in limits, idle timeout, secure cookies and allowed hosts (issue 10)."""

    def take(key: str, variable: str):
        if key in overrides:
            return overrides.pop(key)
        return os.environ.get(variable)

    account = take("signin_limit_account", "LEARNSTATS_SIGNIN_LIMIT_ACCOUNT")
    if account:
        settings.signin_limit_account = _rate("LEARNSTATS_SIGNIN_LIMIT_ACCOUNT", account)
    address = take("signin_limit_address", "LEARNSTATS_SIGNIN_LIMIT_ADDRESS")
    if address:
        settings.signin_limit_address = _rate("LEARNSTATS_SIGNIN_LIMIT_ADDRESS", address)
    idle = take("idle_timeout_minutes", "LEARNSTATS_IDLE_TIMEOUT_MINUTES")
    if idle not in (None, ""):
        text = str(idle).strip()
        if not text.isdigit() or int(text) < 1:
            raise SettingsError(
                f"LEARNSTATS_IDLE_TIMEOUT_MINUTES: {idle!r} is not a whole number of minutes "
                "of at least 1 (the default is 480, 8 hours)"
            )
        settings.idle_timeout_minutes = int(text)
    # Production mode (LEARNSTATS_ENV=production: `make serve`) serves over HTTPS: cookies are
    # Secure unless LEARNSTATS_SECURE_COOKIES=false says otherwise.
    production = settings.production
    secure = take("secure_cookies", "LEARNSTATS_SECURE_COOKIES")
    if secure in (None, ""):
        settings.secure_cookies = bool(production)
    else:
        settings.secure_cookies = (
            secure if isinstance(secure, bool) else _flag("LEARNSTATS_SECURE_COOKIES", secure)
        )
    hosts = take("allowed_hosts", "LEARNSTATS_ALLOWED_HOSTS")
    if hosts:
        names = hosts if isinstance(hosts, (list, tuple)) else hosts.split(",")
        settings.allowed_hosts = tuple(h.strip().lower() for h in names if h.strip())


def _limits(settings: Settings, overrides: dict) -> None:
    """LEARNSTATS_MAX_REQUEST_MB, LEARNSTATS_JOBS_MAX, LEARNSTATS_JOBS_PER_USER (issue 23),
    LEARNSTATS_PERIODIC_TICK_SECONDS."""
    value = (
        overrides.pop("max_request_mb")
        if "max_request_mb" in overrides
        else os.environ.get("LEARNSTATS_MAX_REQUEST_MB")
    )
    value = "" if value is None else str(value).strip()
    if value:
        if not value.isdigit() or not 1 <= int(value) <= 1024:
            raise SettingsError(
                f"LEARNSTATS_MAX_REQUEST_MB: {value!r} is not a whole number of megabytes between 1 and 1024; "
                "the default is 8"
            )
        settings.max_request_mb = int(value)
    for key, variable, top, unit in (
        ("jobs_max", "LEARNSTATS_JOBS_MAX", 64, "jobs"),
        ("jobs_per_user", "LEARNSTATS_JOBS_PER_USER", 16, "jobs"),
        ("periodic_tick_seconds", "LEARNSTATS_PERIODIC_TICK_SECONDS", 3600, "seconds"),
    ):
        value = overrides.pop(key) if key in overrides else os.environ.get(variable)
        value = "" if value is None else str(value).strip()
        if value:
            if not value.isdigit() or not 1 <= int(value) <= top:
                raise SettingsError(
                    f"{variable}: {value!r} is not a whole number of {unit} between 1 and {top}; "
                    f"the default is {getattr(Settings, key)}"
                )
            setattr(settings, key, int(value))


def _lrs(settings: Settings, overrides: dict) -> None:
    """LEARNSTATS_LRS_ENDPOINT, _USERNAME, _PASSWORD and _SYNC_MINUTES (issue 17)."""

    def take(key: str, variable: str) -> str:
        value = overrides.pop(key) if key in overrides else os.environ.get(variable)
        return "" if value is None else str(value).strip()

    endpoint = take("lrs_endpoint", "LEARNSTATS_LRS_ENDPOINT")
    if endpoint:
        from data.lrs import LrsError, statements_url

        try:
            statements_url(endpoint)
        except LrsError as error:
            raise SettingsError(f"LEARNSTATS_LRS_ENDPOINT: {error}") from None
    settings.lrs_endpoint = endpoint
    settings.lrs_username = take("lrs_username", "LEARNSTATS_LRS_USERNAME")
    password = overrides.pop("lrs_password") if "lrs_password" in overrides else None
    settings.lrs_password = (
        password if password is not None else os.environ.get("LEARNSTATS_LRS_PASSWORD", "")
    )
    minutes = take("lrs_sync_minutes", "LEARNSTATS_LRS_SYNC_MINUTES")
    if minutes:
        if not minutes.isdigit() or not 1 <= int(minutes) <= 10_080:
            raise SettingsError(
                f"LEARNSTATS_LRS_SYNC_MINUTES: {minutes!r} is not a whole number of minutes between 1 "
                "and 10080 (a week); the default is 5"
            )
        settings.lrs_sync_minutes = int(minutes)
    at_risk_days = take("at_risk_days", "LEARNSTATS_AT_RISK_DAYS")
    if at_risk_days:
        if not at_risk_days.isdigit() or not 1 <= int(at_risk_days) <= 3650:
            raise SettingsError(
                f"LEARNSTATS_AT_RISK_DAYS: {at_risk_days!r} is not a whole number of days between 1 "
                "and 3650; the default is 14"
            )
        settings.at_risk_days = int(at_risk_days)
