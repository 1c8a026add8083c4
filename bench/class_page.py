"""`python -m bench class-page`: how long the class page takes to settle in headless Chromium
(issue 21 point 2), with its per-training sections drawn at once ("before": ?sections=open,
what the page did until issue 21) and drawn when opened ("after": the page as it opens now),
in the same run, on the same server, alternately.

    python -m bench class-page [--learners 300] [--repeat 5] [--class ID] [--max-seconds 1.5]
                               [--before-tree DIR]

The app runs as `make run` does (the demo platform, generated once into a folder of its own
under instance/bench/class-page-<N>/), served on a free port of 127.0.0.1. A headless Chromium
(selenium + chromedriver, the test tier's) signs in as the demo admin and loads the class page;
"settled" is the moment of the page's last change (a MutationObserver installed before the
page's own scripts) once Dash has no callback running and the page has not changed for 1.5 s.
The class is the demo class with the most members unless --class names one. Exits 1 when the
"after" median is over --max-seconds.

With --before-tree DIR (a checkout of an earlier commit, e.g. `git archive main | tar -x -C
DIR`), "before" is that code's class page, served by a second server from DIR on the same
platform, and "after" this tree's: two commits' code side by side, alternately, in one run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUIET_SECONDS = 1.5
WATCH_JS = """
window.__lsLastChange = performance.now();
new MutationObserver(function () { window.__lsLastChange = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
STATE_JS = """
var busy = document.querySelector("._dash-loading-callback, [data-dash-is-loading='true']") !== null
  || !document.querySelector(".ls-page h1");
return [busy, window.__lsLastChange || 0, performance.now(),
        document.querySelectorAll(".js-plotly-plot").length, document.querySelectorAll("tr").length];
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: Path, port: int, tree: Path = ROOT) -> subprocess.Popen:
    env = dict(
        os.environ,
        PORT=str(port),
        LEARNSTATS_INSTANCE=str(folder),
        LEARNSTATS_DATABASE_URL=f"sqlite:///{folder / 'learnstats.sqlite3'}",
    )
    return subprocess.Popen(
        [sys.executable, "app.py"], cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _demo(folder: Path, learners: int) -> None:
    """The demo platform of N learners, generated once into its folder."""
    if (folder / "learnstats.sqlite3").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        LEARNSTATS_INSTANCE=str(folder),
        LEARNSTATS_DATABASE_URL=f"sqlite:///{folder / 'learnstats.sqlite3'}",
    )
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "migrate"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*flask, "demo-data", "--learners", str(learners)], cwd=ROOT, env=env, check=True)


def _biggest_class(folder: Path) -> str:
    import sqlite3

    with sqlite3.connect(folder / "learnstats.sqlite3") as db:
        return db.execute(
            "SELECT class_id FROM class_members GROUP BY class_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]


def _browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1400,900",
        "--lang=fr-FR",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    return webdriver.Chrome(options=options)


def _sign_in(driver, base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/login")
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.ID, "signin-email") or "/login" not in d.current_url
    )
    if "/login" not in driver.current_url:
        return  # already signed in: the other server (--before-tree) shares the instance's secret key
    driver.find_element(By.ID, "signin-email").send_keys("admin@example.com")
    driver.find_element(By.ID, "signin-password").send_keys("demo-admin-2026")
    driver.find_element(By.ID, "signin-submit").click()
    WebDriverWait(driver, 60).until(lambda d: "/login" not in d.current_url)


def settle_seconds(driver, url: str, timeout: float = 120.0) -> tuple[float, int, int]:
    """(seconds from navigation to the page's last change, charts, table rows)."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy, last, now, charts, rows = driver.execute_script(STATE_JS)
        if not busy and now - last >= QUIET_SECONDS * 1000:
            return last / 1000, charts, rows
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not settle in {timeout:.0f} s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench class-page")
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--class", dest="class_id")
    parser.add_argument("--max-seconds", type=float, default=1.5)
    parser.add_argument("--before-tree", type=Path, help="serve 'before' from this checkout")
    args = parser.parse_args(argv)
    folder = ROOT / "instance" / "bench" / f"class-page-{args.learners}"
    _demo(folder, args.learners)
    class_id = args.class_id or _biggest_class(folder)
    port = _free_port()
    servers = [_serve(folder, port)]
    base = f"http://127.0.0.1:{port}"
    other = None
    if args.before_tree:
        other = f"http://127.0.0.1:{_free_port()}"
        servers.append(_serve(folder, int(other.rsplit(":", 1)[1]), args.before_tree.resolve()))
    driver = None
    try:
        import requests

        for url in [base, other] if other else [base]:
            for _ in range(120):
                try:
                    requests.get(f"{url}/login", timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.5)
        driver = _browser()
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS})
        page = f"{base}/class/{class_id}"
        if other:
            _sign_in(driver, other)
            kinds = {f"before ({args.before_tree})": f"{other}/class/{class_id}", "after": page}
        else:
            kinds = {"before (sections drawn at once)": f"{page}?sections=open", "after": page}
        _sign_in(driver, base)
        for url in kinds.values():  # warm: the server's caches and the browser's scripts
            settle_seconds(driver, url)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        shapes: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            for kind, url in kinds.items():  # alternately: the machine's load hits both alike
                seconds, charts, rows = settle_seconds(driver, url)
                times[kind].append(seconds)
                shapes[kind] = (charts, rows)
        load = os.getloadavg()
        print(f"class page /class/{class_id}, demo platform of {args.learners} learners, 1400 px, French")
        print(
            f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {args.repeat} loads each, alternately"
        )
        for kind, values in times.items():
            charts, rows = shapes[kind]
            print(
                f"  {kind:32} median {statistics.median(values):5.2f} s  "
                f"(min {min(values):.2f}, max {max(values):.2f}; {charts} charts, {rows} table rows)"
            )
        before = statistics.median(next(iter(times.values())))
        after = statistics.median(times["after"])
        print(f"  after / before: {after / before:.2f}")
        return 0 if after <= args.max_seconds else 1
    finally:
        if driver is not None:
            driver.quit()
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
