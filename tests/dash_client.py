"""A small Dash client, no browser, only HTTP: for the benchmarks (bench/app.py, bench/serve.py)
and the tests that replay what a browser sends (the access matrix, the multi-process run).

It signs in through the real /login form (CSRF token included) and replays what the browser's
Dash renderer does on a page: POST the page-layout callback (`_pages_content`), walk the
returned component tree, fire every server-side callback whose inputs appear (the initial
calls), follow the chains (an output that is another callback's input fires that callback,
upstream callbacks first), and, on request, a user action (a preset choice, a click, a sort).
Every request body it sends is kept as a `Call`, so the benchmark can replay it and time it.
The callbacks and their ids come from GET /_dash-dependencies, so new callbacks are covered
without editing this file. Clientside callbacks never reach the server: they are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import requests

TIMEOUT = 600  # seconds per request: pages may take minutes on a large platform
UPDATE = "/_dash-update-component"
WILDCARDS = ("MATCH", "ALL", "ALLSMALLER")
MAX_CALLS_PER_STEP = 200  # bound on the chain of callbacks one navigation or action may fire


class DashError(RuntimeError):
    """A callback answered something other than HTTP 200/204 with a Dash payload."""


def sign_in(base: str, email: str, password: str, timeout: float = TIMEOUT) -> requests.Session:
    """A requests session signed in through the real sign-in form."""
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=timeout)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or not token:
        raise RuntimeError(f"GET /login: HTTP {page.status_code}, no CSRF token in the form")
    answer = s.post(
        f"{base}/login",
        data={"csrf_token": token.group(1), "email": email, "password": password},
        allow_redirects=False,
        timeout=timeout,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in as {email} failed: HTTP {answer.status_code}")
    return s


def stringify_id(id_) -> str:
    """Dash's own key for a component id (dash._utils.stringify_id)."""
    if isinstance(id_, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(id_[k])}" for k in sorted(id_)) + "}"
    return id_


def _parse_id(text: str):
    return json.loads(text) if text.startswith("{") else text


def _is_pattern(id_) -> bool:
    return isinstance(id_, dict) and any(
        isinstance(v, list) and v and v[0] in WILDCARDS for v in id_.values()
    )


def _wild(value) -> str | None:
    return value[0] if isinstance(value, list) and value and value[0] in WILDCARDS else None


def check_payload(response: requests.Response) -> dict | None:
    """The decoded `response` of a callback (None for 204, "no update"); DashError otherwise."""
    if response.status_code == 204:
        return None
    if response.status_code != 200:
        raise DashError(f"HTTP {response.status_code}: {response.text[:300]!r}")
    try:
        payload = response.json()
    except ValueError as error:
        raise DashError(f"not JSON: {response.text[:300]!r}") from error
    if not isinstance(payload, dict) or "response" not in payload:
        raise DashError(f"not a callback payload: {str(payload)[:300]}")
    return payload["response"]


@dataclass
class Dependency:
    """One callback as /_dash-dependencies describes it."""

    index: int
    output: str
    outputs: list[tuple[object, str]]
    inputs: list[tuple[object, str]]
    state: list[tuple[object, str]]
    multi: bool
    prevent_initial_call: bool
    server_side: bool

    @classmethod
    def parse(cls, index: int, raw: dict) -> Dependency:
        out = raw["output"]
        multi = out.startswith("..")
        parts = out[2:-2].split("...") if multi else [out]
        outputs = [(_parse_id(p.rsplit(".", 1)[0]), p.rsplit(".", 1)[1]) for p in parts]
        return cls(
            index=index,
            output=out,
            outputs=outputs,
            inputs=[(_parse_id(i["id"]), i["property"]) for i in raw.get("inputs", [])],
            state=[(_parse_id(i["id"]), i["property"]) for i in raw.get("state", [])],
            multi=multi,
            prevent_initial_call=bool(raw.get("prevent_initial_call")),
            server_side=not raw.get("clientside_function") and not raw.get("background"),
        )

    def name(self) -> str:
        """A short readable name: the first output, with a pattern id's fixed keys."""
        id_, prop = self.outputs[0]
        if isinstance(id_, dict):
            fixed = [str(v) for k, v in sorted(id_.items()) if k != "type" and not _wild(v)]
            return f"{id_.get('type', '?')}{'[' + ','.join(fixed) + ']' if fixed else ''}.{prop}"
        return f"{id_}.{prop}"


@dataclass
class Call:
    """One request the renderer sent: replayable as is."""

    page: str  # the page's label in the report
    name: str  # which callback, and why it fired
    kind: str  # "layout", "initial", "chain", "action" or "download"
    body: dict
    role: str = "admin"
    seconds: float = 0.0  # the time of the request while recording


@dataclass
class Combo:
    """A dependency resolved against the components on the page."""

    dep: Dependency
    outputs: list
    inputs: list
    state: list
    changed: set = field(default_factory=set)

    @property
    def key(self) -> tuple:
        return (self.dep.index, json.dumps([o["id"] for o in _flat(self.outputs)], sort_keys=True))


def _flat(items: list) -> list:
    out = []
    for item in items:
        out.extend(item if isinstance(item, list) else [item])
    return out


class Renderer:
    """The page state of one signed-in browser tab, and the callbacks it fires."""

    def __init__(self, session: requests.Session, base: str, role: str = "admin", timeout: float = TIMEOUT):
        self.s, self.base, self.role, self.timeout = session, base, role, timeout
        self.deps = [Dependency.parse(i, d) for i, d in enumerate(self._get("/_dash-dependencies"))]
        self.props: dict[str, dict] = {}  # stringified id -> the component's props (live)
        self.ids: dict[str, object] = {}
        self.calls: list[Call] = []
        self.errors: list[str] = []  # requests that failed while recording
        self.page = ""
        self.shell = self._get("/_dash-layout")
        self._walk(json.loads(json.dumps(self.shell)), set())
        self.pages_dep = next(d for d in self.deps if d.outputs[0] == ("_pages_content", "children"))

    def _get(self, path: str):
        response = self.s.get(self.base + path, timeout=self.timeout)
        if response.status_code != 200:
            raise DashError(f"GET {path}: HTTP {response.status_code}")
        return response.json()

    # -- the component tree --------------------------------------------------------------------

    def _walk(self, node, new: set) -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(item, new)
        elif isinstance(node, dict):
            if "props" in node and "type" in node and isinstance(node["props"], dict):
                props = node["props"]
                if "id" in props:
                    key = stringify_id(props["id"])
                    self.props[key], self.ids[key] = props, props["id"]
                    new.add(key)
                for value in props.values():
                    if isinstance(value, list | dict):
                        self._walk(value, new)
            else:
                for value in node.values():
                    if isinstance(value, list | dict):
                        self._walk(value, new)

    def _keys(self, node) -> set:
        """The ids of the components inside node."""
        found: set = set()
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                props = item.get("props") if "type" in item else None
                if isinstance(props, dict) and "id" in props:
                    found.add(stringify_id(props["id"]))
                stack.extend(v for v in (props or item).values() if isinstance(v, list | dict))
        return found

    def find(self, pattern) -> list:
        """Ids on the page matching a (possibly wildcard) id, in page order."""
        if not _is_pattern(pattern):
            key = stringify_id(pattern)
            return [self.ids[key]] if key in self.ids else []
        found = []
        for id_ in self.ids.values():
            same_keys = isinstance(id_, dict) and id_.keys() == pattern.keys()
            if same_keys and all(_wild(v) or id_[k] == v for k, v in pattern.items()):
                found.append(id_)
        return found

    def value(self, id_, prop):
        return self.props.get(stringify_id(id_), {}).get(prop)

    # -- resolving a dependency ----------------------------------------------------------------

    def resolve(self, dep: Dependency) -> list[Combo]:
        """Every instance of dep whose inputs and outputs are on the page."""
        items = dep.inputs + dep.state + dep.outputs
        match_keys = sorted(
            {k for id_, _ in items if isinstance(id_, dict) for k, v in id_.items() if _wild(v) == "MATCH"}
        )
        if match_keys:
            anchor = next(
                id_
                for id_, _ in dep.inputs + dep.outputs
                if isinstance(id_, dict) and any(_wild(id_.get(k)) == "MATCH" for k in match_keys)
            )
            bindings, seen = [], set()
            for id_ in self.find(anchor):
                binding = {k: id_[k] for k in match_keys if _wild(anchor.get(k)) == "MATCH"}
                if json.dumps(binding, sort_keys=True) not in seen:
                    seen.add(json.dumps(binding, sort_keys=True))
                    bindings.append(binding)
        else:
            bindings = [{}]
        combos = []
        for binding in bindings:
            combo = self._bind(dep, binding)
            if combo is not None:
                combos.append(combo)
        return combos

    def _bind(self, dep: Dependency, binding: dict) -> Combo | None:
        def concrete(id_):
            if not isinstance(id_, dict):
                return id_
            return {k: (binding.get(k, v) if _wild(v) == "MATCH" else v) for k, v in id_.items()}

        def entries(items, with_value: bool, required: bool):
            out = []
            for id_, prop in items:
                id_ = concrete(id_)
                if _is_pattern(id_):  # ALL / ALLSMALLER: a list, possibly empty
                    out.append([self._entry(i, prop, with_value) for i in self.find(id_)])
                elif stringify_id(id_) in self.props:
                    out.append(self._entry(id_, prop, with_value))
                elif required:
                    return None
                else:
                    out.append(self._entry(id_, prop, with_value))
            return out

        outputs = entries(dep.outputs, False, True)
        inputs = entries(dep.inputs, True, True)
        state = entries(dep.state, True, False)
        if outputs is None or inputs is None:
            return None
        return Combo(dep, outputs, inputs, state)

    def _entry(self, id_, prop, with_value: bool) -> dict:
        entry = {"id": id_, "property": prop}
        props = self.props.get(stringify_id(id_), {})
        if with_value and prop in props:
            entry["value"] = props[prop]
        return entry

    # -- firing ---------------------------------------------------------------------------------

    def body(self, combo: Combo) -> dict:
        return {
            "output": combo.dep.output,
            "outputs": combo.outputs if combo.dep.multi else combo.outputs[0],
            "inputs": combo.inputs,
            "changedPropIds": sorted(combo.changed),
            "state": combo.state,
        }

    def post(self, body: dict) -> tuple[dict | None, float]:
        import time

        started = time.perf_counter()
        response = self.s.post(self.base + UPDATE, json=body, timeout=self.timeout)
        seconds = time.perf_counter() - started
        return check_payload(response), seconds

    def _fire(self, combo: Combo, name: str, kind: str) -> tuple[set, list]:
        """Send one callback, apply its answer; (new component keys, changed (key, prop))."""
        body = self.body(combo)
        try:
            answer, seconds = self.post(body)
        except (DashError, requests.RequestException) as error:  # counted, and the page goes on
            self.errors.append(f"{self.page} / {name}: {str(error)[:300]}")
            return set(), []
        self.calls.append(Call(self.page, name, kind, body, self.role, seconds))
        new, changed = set(), []
        for key, values in (answer or {}).items():
            key = stringify_id(_parse_id(key))
            target = self.props.setdefault(key, {})
            self.ids.setdefault(key, _parse_id(key))
            for prop, value in values.items():
                if prop == "children":  # the components it replaces leave the page
                    for gone in self._keys(target.get("children")):
                        self.props.pop(gone, None)
                        self.ids.pop(gone, None)
                target[prop] = value
                if prop == "children" or isinstance(value, dict | list):
                    self._walk(value, new)
                changed.append((key, prop))
        return new, changed

    def _run(self, pending: dict, kind: str, label: str) -> None:
        """Fire the pending callbacks, upstream first, and what they set off (bounded)."""
        for _ in range(MAX_CALLS_PER_STEP):
            if not pending:
                return
            combo = self._next(pending)
            del pending[combo.key]
            if combo.dep.outputs[0][0] == "_pages_content":
                name = "page layout"
            else:
                trigger = ", ".join(sorted(c.split(".")[-1] for c in combo.changed)) or "initial"
                bound = [str(v) for k, v in sorted(self._binding(combo).items()) if k != "row"]
                where = f"[{','.join(bound)}]" if bound else ""
                name = f"{combo.dep.name()}{where} ({label or trigger})"
            if combo.dep.outputs[0][1] == "data" and "download" in combo.dep.name():
                fired_kind = "download"
            elif kind == "chain":
                fired_kind = "chain" if combo.changed else "initial"
            else:
                fired_kind = kind
            # Re-read the inputs: an upstream callback may have changed them since queued.
            fresh = self._bind(combo.dep, self._binding(combo))
            if fresh is None:
                continue
            fresh.changed = combo.changed
            new, changed = self._fire(fresh, name, fired_kind)
            self._queue_initial(new, pending)
            self._queue_changed(changed, pending, fired=combo.dep)
            kind, label = "chain", ""
        raise DashError(f"more than {MAX_CALLS_PER_STEP} callbacks in one step on {self.page}")

    @staticmethod
    def _binding(combo: Combo) -> dict:
        binding = {}
        for (pattern, _), entry in zip(combo.dep.outputs, _flat(combo.outputs), strict=False):
            if isinstance(pattern, dict):
                binding.update({k: entry["id"][k] for k, v in pattern.items() if _wild(v) == "MATCH"})
        return binding

    def _next(self, pending: dict) -> Combo:
        """A pending callback none of whose inputs another pending callback will set."""
        for combo in pending.values():
            mine = {stringify_id(i["id"]) + "." + i["property"] for i in _flat(combo.inputs)}
            upstream = any(
                stringify_id(o["id"]) + "." + o["property"] in mine
                for other in pending.values()
                if other is not combo
                for o in _flat(other.outputs)
            )
            if not upstream:
                return combo
        return next(iter(pending.values()))

    def _queue_initial(self, new: set, pending: dict) -> None:
        if not new:
            return
        for dep in self.deps:
            if not dep.server_side or dep.prevent_initial_call or dep is self.pages_dep:
                continue
            for combo in self.resolve(dep):
                if (
                    any(stringify_id(i["id"]) in new for i in _flat(combo.inputs))
                    and combo.key not in pending
                ):
                    pending[combo.key] = combo

    def _queue_changed(self, changed: list, pending: dict, fired: Dependency | None = None) -> None:
        """Queue the callbacks listening to changed props (a callback's own outputs never
        set it off again: the renderer treats that circle as done)."""
        changed_set = {(k, p) for k, p in changed}
        for dep in self.deps:
            if not dep.server_side or dep is self.pages_dep or dep is fired:
                continue
            for combo in self.resolve(dep):
                hits = {
                    stringify_id(i["id"]) + "." + i["property"]
                    for i in _flat(combo.inputs)
                    if (stringify_id(i["id"]), i["property"]) in changed_set
                }
                if hits:
                    pending.setdefault(combo.key, combo).changed |= hits

    # -- what a user does -------------------------------------------------------------------------

    def open(self, page: str, path: str, search: str = "") -> None:
        """Navigate to path?search: the layout callback, then every initial and chained call."""
        self.page = page
        self.props, self.ids = {}, {}
        self._walk(json.loads(json.dumps(self.shell)), set())  # a fresh tab on the shell
        self.props["_pages_location"].update(pathname=path, search=search)
        combo = self._bind(self.pages_dep, {})
        combo.changed = {"_pages_location.pathname", "_pages_location.search"}
        pending = {combo.key: combo}
        self._queue_changed([("_pages_location", "pathname"), ("_pages_location", "search")], pending)
        self._run(pending, "layout", "")
        self.load_grids()

    def infinite_grids(self) -> list:
        """AG Grids with the infinite row model: their rows come from a server callback."""
        return [
            self.ids[key]
            for key, props in list(self.props.items())
            if props.get("rowModelType") == "infinite"
        ]

    def load_grids(self, block: int = 0, sort: bool = False) -> None:
        """What AG Grid does once mounted: ask for a block of rows (getRowsRequest), first
        block by default; sort=True sorts by the first column, descending."""
        for grid in self.infinite_grids():
            props = self.props[stringify_id(grid)]
            size = int((props.get("dashGridOptions") or {}).get("cacheBlockSize") or 100)
            columns = [
                c.get("field")
                for c in props.get("columnDefs") or []
                if isinstance(c, dict) and c.get("field")
            ]
            order = [{"colId": columns[0], "sort": "desc"}] if sort and columns else []
            request = {
                "startRow": block * size,
                "endRow": (block + 1) * size,
                "sortModel": order,
                "filterModel": {},
            }
            label = f"grid rows {block * size + 1}–{(block + 1) * size}" + (
                f", sorted by {columns[0]}" if order else ""
            )
            self.act(grid, "getRowsRequest", request, label)

    def act(self, id_, prop: str, value, label: str) -> bool:
        """A user changes one property (a click, a choice): fire what listens to it.
        False when nothing on the page listens."""
        key = stringify_id(id_)
        if key not in self.props:
            return False
        self.props[key][prop] = value
        pending: dict = {}
        self._queue_changed([(key, prop)], pending)
        if not pending:
            return False
        self._run(pending, "action", label)
        return True

    def click_first(self, pattern, label: str) -> bool:
        """Click the first component matching pattern (n_clicks + 1)."""
        found = self.find(pattern)
        if not found:
            return False
        current = self.value(found[0], "n_clicks") or 0
        return self.act(found[0], "n_clicks", current + 1, label)

    def untouched(self) -> list[Dependency]:
        """Server-side callbacks none of this renderer's calls used."""
        used = {c.body["output"] for c in self.calls}
        return [d for d in self.deps if d.server_side and d.output not in used]
