"""Screenshots of pages as a signed-in user sees them (docs/screenshots/, and for looking).

    .venv/bin/python -m tests.screenshots --url http://127.0.0.1:8050 --email E --password P \
        --out docs/screenshots [--widths 1400,1024,800,390] NAME=/path [NAME=/path ...]

Headless Chromium through selenium and chromedriver (as the browser tests), 1400x900 by default.
With --widths, each page is taken at each width as NAME-WIDTH.png (900 px high, 844 at 390 px
as on a phone), and a page that scrolls sideways is reported on the standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import pytest_setup_options


def _settle(driver, seconds: float = 20.0) -> None:
    """Wait until Dash has rendered and no callback is pending (no loading spinner shown)."""
    WebDriverWait(driver, seconds).until(ec.presence_of_element_located((By.ID, "_pages_content")))
    deadline = time.time() + seconds
    quiet_since = None
    while time.time() < deadline:
        busy = driver.execute_script(
            "return document.querySelectorAll('._dash-loading, ._dash-loading-callback, .dash-spinner').length"
        )
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.5:
            return
        time.sleep(0.2)


def _viewport(driver, width: int, height: int) -> None:
    """The page's own area is width x height (a window size would include the browser's bars)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8050")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--full", action="store_true", help="capture the whole page height")
    parser.add_argument("--widths", default="", help="comma-separated widths, e.g. 1400,1024,800,390")
    parser.add_argument("--click", default="", help="a CSS selector to click before each shot (e.g. a menu)")
    parser.add_argument("--lang", default="", help="the browser's language, e.g. fr-FR (Accept-Language)")
    parser.add_argument("pages", nargs="+", help="NAME=/path")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options = pytest_setup_options()
    if args.lang:
        options.add_argument(f"--lang={args.lang}")
        options.add_experimental_option("prefs", {"intl.accept_languages": f"{args.lang},{args.lang[:2]}"})
    driver = webdriver.Chrome(options=options)
    try:
        _viewport(driver, 1400, 900)
        driver.get(args.url + "/login")
        driver.find_element(By.ID, "signin-email").send_keys(args.email)
        driver.find_element(By.ID, "signin-password").send_keys(args.password)
        driver.find_element(By.ID, "signin-submit").click()
        WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url)
        _settle(driver)
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
        for spec in args.pages:
            name, _, path = spec.partition("=")
            for width in widths or [1400]:
                height = 844 if width < 500 else 900
                _viewport(driver, width, height)
                driver.get(args.url + path)
                _settle(driver)
                if args.click:
                    for element in driver.find_elements(By.CSS_SELECTOR, args.click):
                        if element.is_displayed():
                            element.click()
                            _settle(driver, 5)
                            break
                if args.full:
                    full = driver.execute_script("return document.documentElement.scrollHeight")
                    _viewport(driver, width, max(height, full))
                    _settle(driver, 5)
                overflow = driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 0:
                    print(f"{name} at {width} px scrolls sideways by {overflow} px", file=sys.stderr)
                target = out / (f"{name}-{width}.png" if widths else f"{name}.png")
                driver.save_screenshot(str(target))
                print(target)
            _viewport(driver, 1400, 900)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
