"""Learnstats: the app factory, the module-level app/server, and `python app.py` (make run).

`create_app(config)` builds the Flask server, binds the database and sign-in, and mounts the
Dash pages found in dashboards/pages/. `app` and `server` are created on first use (gunicorn's
`app:server`, `flask --app app ...`), so importing this module does no I/O.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from dash import Dash
from dash import _callback as dash_callback
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import force_locale

import auth
from auth.callback_checks import init_app as init_callback_checks
from auth.cli import register as register_auth_cli
from auth.faults import init_app as init_faults
from auth.headers import QuietRequestHandler
from auth.headers import init_app as init_security_headers
from auth.language import html_lang
from auth.language import init_app as init_language
from dashboards.access import guard_pages, page_access
from dashboards.components import register_component_callbacks
from dashboards.components.page_pdf import register_page_pdf_callbacks
from dashboards.components.results import register_results_callbacks
from dashboards.components.search import register_search_callbacks
from dashboards.components.shell import register_shell_callbacks, shell_layout
from dashboards.dialogs.attestations import register_attestation_dialog_callbacks
from dashboards.dialogs.compliance import register_compliance_dialog_callbacks
from dashboards.dialogs.opco import register_opco_dialog_callbacks
from dashboards.dialogs.schedule import register_schedule_dialog_callbacks
from data.cache import init_cache
from data.cli import register as register_data_cli
from data.config import SETTINGS_KEY, SettingsError, load_settings
from data.db import init_app as init_db
from data.health import init_app as init_health
from exports.cli import register as register_exports_cli
from exports.routes import init_app as init_export_routes
from jobs.background import background_callback_manager, register_server

ROOT = Path(__file__).resolve().parent


def create_app(config: dict | None = None) -> Dash:
    """Build the app. config overrides settings: database_url, timezone, instance_path, ..."""
    settings = load_settings(config)
    server = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=False)
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=settings.max_request_mb * 2**20,  # larger bodies: 413 before reading (issue 23)
    )
    server.config[SETTINGS_KEY] = settings  # read with data.config.current_settings() / settings_of()
    server.config.update(settings.extra.get("flask", {}))
    init_db(server, settings.database_url, settings.tz)
    init_cache(server, settings)
    auth.init_app(server)
    init_language(server)
    register_data_cli(server)
    register_auth_cli(server)
    register_exports_cli(server)
    init_export_routes(server)
    init_health(server)
    if settings.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind a reverse proxy: the client's address, scheme (https), host and port come
        # from the X-Forwarded-* headers of that many proxies, and only theirs. Not the path
        # prefix: Dash's pages and assets are served from the root of the host.
        n = settings.behind_proxy
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=0)
    _with_app_context(server)

    # Page modules register their callbacks with dash.callback into Dash's global lists, which
    # the next app to serve a request takes whole. Apps built earlier in this process (tests)
    # that never served would hand theirs on too: start each app from empty lists.
    dash_callback.GLOBAL_CALLBACK_LIST.clear()
    dash_callback.GLOBAL_CALLBACK_MAP.clear()
    dash_callback.GLOBAL_INLINE_SCRIPTS.clear()
    app = Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "dashboards" / "pages"),
        assets_folder=str(ROOT / "assets"),
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="Learnstats",
        update_title=None,
        background_callback_manager=background_callback_manager(settings),
    )
    # Each page's access, declared once in its register_page, is required and guards its
    # layout (dashboards/access.py): a page without one stops the app here.
    guard_pages()
    # The document's language, for screen readers and WCAG's html-has-lang (the interface is
    # in English; a translated interface sets its own).
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    app.layout = shell_layout
    html_lang(app)
    register_server(server)  # the background jobs find this site by its app key
    register_opco_dialog_callbacks(app)
    register_schedule_dialog_callbacks(app)
    register_attestation_dialog_callbacks(app)
    register_compliance_dialog_callbacks(app)
    register_component_callbacks(app)
    register_results_callbacks(app)
    register_page_pdf_callbacks(app)
    register_search_callbacks(app)
    register_shell_callbacks(app)
    server.extensions["learnstats_dash"] = app
    server.extensions["learnstats_page_access"] = page_access
    init_security_headers(server, app)
    init_callback_checks(server, app)
    init_faults(server)
    return app


def _create_or_exit() -> Dash:
    """create_app() for the command line and servers: a bad setting ends with its message."""
    try:
        return create_app()
    except SettingsError as error:
        raise SystemExit(f"Learnstats cannot start: {error}") from None


def _in_english(callback):
    """The command line speaks English whatever LEARNSTATS_LANGUAGE says (docs/decisions.md,
    "Two languages"): the reasons it prints from the exports layer too. The files it writes
    follow their own options (export-attestations --language, export-opco-logs --titles)."""

    @functools.wraps(callback)
    def run(*args, **kwargs):
        with force_locale("en"):
            return callback(*args, **kwargs)

    return run


def _with_app_context(server: Flask) -> None:
    """Run every command inside the app context (as `flask --app app` does), also under
    Flask's test CLI runner, in English."""
    for command in server.cli.commands.values():
        if not getattr(command.callback, "_learnstats_context", False):
            command.callback = with_appcontext(_in_english(command.callback))
            command.callback._learnstats_context = True


def __getattr__(name: str):
    """Module-level `app` (Dash) and `server` / `application` (its Flask server), built on
    first access so importing this module does no I/O. Flask's CLI (`flask --app app`) finds
    the Flask server under `application`; gunicorn serves `app:server`."""
    if name in ("app", "server", "application"):
        instance = globals().get("_app") or _create_or_exit()
        globals()["_app"] = instance
        return instance if name == "app" else instance.server
    raise AttributeError(name)


def main() -> None:
    """`make run`: migrate, load the demo data into an empty database, print how to sign in, serve."""
    from data.demo import DEMO_ACCOUNTS, ensure_demo_data
    from jobs.periodic import start_in_process

    application = _create_or_exit()
    server = application.server
    port = int(os.environ.get("PORT", "8050"))
    with server.app_context():
        db = server.extensions["learnstats_db"]
        db.migrate()
        loaded = ensure_demo_data(db)
    url = f"http://127.0.0.1:{port}"
    print()
    print(f"Learnstats is running on {url}")
    print("  (demo data loaded into the empty database)" if loaded else "  (using the existing database)")
    print("Demo accounts (email / password / role):")
    for account in DEMO_ACCOUNTS:
        print(f"  {account.email:40} {account.password:16} {account.role}")
    print(flush=True)
    # The periodic jobs (jobs/periodic.py) in a thread of this process, unless a Celery broker
    # is configured: then `make worker` runs them with Celery beat.
    start_in_process(server)
    application.run(
        host="127.0.0.1", port=port, debug=False, threaded=True, request_handler=QuietRequestHandler
    )


if __name__ == "__main__":
    main()
