"""The shape of a Dash callback request, checked before Dash reads it (issue 10 point 6).

Dash's dispatcher trusts the body the renderer sends; a body forged by hand (not JSON, an
unknown output, inputs of the wrong shape or number) made it raise deep inside, a bare 500.
This check answers 400 with a sentence instead. It checks the shape only: what the values
mean, and whether the user may see what they name, stays each callback's business.
"""

from __future__ import annotations

from typing import Any

from dash import Dash
from flask import Flask, jsonify, request

from data.errors import LearnstatsError

UPDATE_PATH = "/_dash-update-component"


class BadCallback(LearnstatsError, ValueError):
    pass


def _entry(item: Any, where: str) -> None:
    if isinstance(item, list):  # a pattern-matching ALL/ALLSMALLER input: a list of entries
        for inner in item:
            _entry(inner, where)
        return
    if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("property"), str):
        raise BadCallback(f"each of the callback's {where} must be an object with an id and a property")
    if not isinstance(item["id"], (str, dict)):
        raise BadCallback(f"an id in the callback's {where} must be a text or an object")


def check_callback_body(body: Any, callback_map: dict) -> None:
    """Raise BadCallback (with the sentence to answer) unless body is a well-formed request
    for a callback of the app."""
    if not isinstance(body, dict):
        raise BadCallback("the callback request must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str):
        raise BadCallback("the callback request has no output")
    spec = callback_map.get(output)
    if spec is None:
        raise BadCallback("the callback request names no callback of this app")
    for key in ("inputs", "state"):
        items = body.get(key, [] if key == "state" else None)
        if not isinstance(items, list):
            raise BadCallback(f"the callback request's {key} must be a list")
        expected = len(spec.get(key) or [])
        if len(items) != expected:
            raise BadCallback(f"the callback takes {expected} {key}, the request sends {len(items)}")
        for item in items:
            _entry(item, key)
    outputs = body.get("outputs")
    # One output: an object; several (the key "..a.children...b.value.."): a list of as many
    # (a forged request with fewer outputs than declared was a bare 500, issue 23).
    expected = len(output[2:-2].split("...")) if output.startswith("..") else None
    if expected is None:
        if not isinstance(outputs, dict):
            raise BadCallback("the callback request's outputs must be one object")
        _entry(outputs, "outputs")
    else:
        if not isinstance(outputs, list):
            raise BadCallback("the callback request's outputs must be a list")
        if len(outputs) != expected:
            raise BadCallback(f"the callback has {expected} outputs, the request sends {len(outputs)}")
        for item in outputs:
            _entry(item, "outputs")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise BadCallback("the callback request's changedPropIds must be a list of texts")


def init_app(server: Flask, app: Dash) -> None:
    # Registered after Dash's own before_request (its setup merges the pages' callbacks).
    @server.before_request
    def _check_callback_request():
        if request.path != UPDATE_PATH or request.method != "POST":
            return None
        app._setup_server()  # idempotent: the callback map is complete from here on
        try:
            check_callback_body(request.get_json(silent=True), app.callback_map)
        except BadCallback as problem:
            sentence = str(problem)
            return jsonify(error=f"Malformed callback request: {sentence}."), 400
        return None
