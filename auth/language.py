"""The interface's language (issue 12): French or English through Flask-Babel's catalogues
(translations/<lang>/LC_MESSAGES/messages.po, compiled to .mo: `make translations`).

Which language a request gets: the signed-in user's saved choice, else the choice kept in a
cookie (before signing in), else the browser's (Accept-Language), else LEARNSTATS_LANGUAGE
(default fr). POST /language (language, next, the form's CSRF token) saves the choice on the
user and in the cookie, then goes back to `next`.
"""

from __future__ import annotations

import re

from flask import Flask, current_app, redirect, request
from flask_babel import Babel
from flask_login import current_user
from markupsafe import Markup, escape

from auth.forms import csrf_ok, csrf_token, safe_next
from data.config import current_settings
from data.db import get_db
from data.models import User
from exports.formatting import LANGUAGES, N_, TRANSLATIONS, current_language, gettext, ngettext

__all__ = ["N_", "gettext", "init_app", "ngettext", "page_title", "select_language"]
COOKIE = "learnstats_language"
COOKIE_MAX_AGE = 365 * 24 * 3600
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def select_language() -> str:
    """Flask-Babel's locale selector (see the module's docstring for the order)."""
    chosen = getattr(current_user, "language", "") if current_user and current_user.is_authenticated else ""
    if chosen in LANGUAGES:
        return chosen
    try:
        cookie = request.cookies.get(COOKIE, "")
    except RuntimeError:  # no request: a background job or the command line
        cookie = ""
    if cookie in LANGUAGES:
        return cookie
    try:
        browser = request.accept_languages.best_match(LANGUAGES)
    except RuntimeError:
        browser = None
    if browser:
        return browser
    return current_settings().language


def choose_language():
    """POST /language: save the choice (on the user when signed in, and in a cookie)."""
    language = request.form.get("language", "")
    target = safe_next(request.form.get("next"))
    if language not in LANGUAGES or not csrf_ok():
        return redirect(target)
    if current_user.is_authenticated:
        with get_db().session() as s:
            user = s.get(User, current_user.id)
            if user is not None:
                user.language = language
                s.commit()
    response = redirect(target)
    response.set_cookie(
        COOKIE,
        language,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def language_switch(next_path: str) -> Markup:
    """The sign-in page's choice of language: a small form posting to /language."""
    current = current_language()
    marks = {code: ' aria-current="true" disabled' if code == current else "" for code in LANGUAGE_NAMES}
    buttons = "".join(
        f'<button type="submit" name="language" value="{code}" class="btn btn-link btn-sm"'
        f' lang="{code}" id="language-{code}"{marks[code]}>{escape(name)}</button>'
        for code, name in LANGUAGE_NAMES.items()
    )
    return Markup(
        '<form method="post" action="/language" class="ls-language-switch text-center mt-3" id="language-form">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">{buttons}</form>'
    )


def page_title(text: str):
    """A page's browser tab title for dash.register_page(title=...): "<text> · Learnstats",
    translated each time a page is shown (mark text with N_ where it is written)."""

    def title(**_path_variables) -> str:
        return f"{gettext(text)} · Learnstats"

    return title


def named_page_title(text: str, can_open, name_of):
    """A page's tab title naming what it shows (issue 21: every training tab read "Training ·
    Learnstats"): "<name> · <text> · Learnstats" for a signed-in user whom `can_open(scope,
    session, **path_variables)` lets open the page, `name_of(session, **path_variables)` giving
    the name; "<text> · Learnstats" otherwise (a name is never shown outside the user's scope)."""
    plain = page_title(text)

    def title(**path_variables) -> str:
        from auth.guard import current_scope  # auth.guard imports this module
        from data.db import get_db
        from data.scope import Forbidden

        name = None
        try:
            scope = current_scope()
            with get_db().session() as session:
                if can_open(scope, session, **path_variables):
                    name = name_of(session, **path_variables)
        except (Forbidden, RuntimeError):  # anonymous, or outside a request
            name = None
        return f"{name} · {plain()}" if name else plain()

    return title


def html_lang(app) -> None:
    """Dash's page says its language: <html lang="fr"> (screen readers, the grids' formats)."""
    render = app.interpolate_index

    def interpolate_index(**kwargs):
        return re.sub(r"<html[^>]*>", f'<html lang="{current_language()}">', render(**kwargs), count=1)

    app.interpolate_index = interpolate_index


def init_app(server: Flask) -> None:
    Babel(server, locale_selector=select_language, default_translation_directories=str(TRANSLATIONS))
    server.add_url_rule("/language", "auth.language", choose_language, methods=["POST"])
