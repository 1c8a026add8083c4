"""A page left open when the session ends (signed out elsewhere, or idle past the timeout):
its next callback is refused (401) and the browser goes to the sign-in page, which says why
and brings the user back (assets/sessionEnd.js)."""

from __future__ import annotations

from auth.users import end_sessions
from tests.browser.test_shell import EMAIL, PASSWORD, add_user, submit_sign_in, wait_for_path


def test_sen001_a_refused_callback_leads_to_the_sign_in_page(dash_duo, dash_app, factory, db):
    add_user(factory)
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login?next=/me")
    submit_sign_in(dash_duo, EMAIL, PASSWORD)
    with db.session() as s:
        from auth.users import find_user_by_email

        user_id = find_user_by_email(s, EMAIL).id
    path = f"/learner/{user_id}"  # /me opens the user's own page
    wait_for_path(dash_duo, path)
    dash_duo.wait_for_element("#shell-signout-link")
    # The session ends on the server (signed out in another browser): every copy of the
    # cookie stops working.
    with db.session() as s:
        end_sessions(s, user_id)
    # The page's next Dash request (as any callback would send it).
    dash_duo.driver.execute_script(
        "fetch('/_dash-update-component', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})"
    )
    wait_for_path(dash_duo, "/login", timeout=20)
    assert dash_duo.driver.current_url.endswith("/login?next=" + path.replace("/", "%2F"))
    # Signing in again brings the user back to the page.
    submit_sign_in(dash_duo, EMAIL, PASSWORD)
    wait_for_path(dash_duo, path)
    dash_duo.wait_for_element("#shell-signout-link")
    # The only console entries: requests refused once the session ended (the 401 itself, the
    # renderer reporting a callback of the old page that was still in flight, and a library
    # chunk the old page loaded lazily after the session ended: its 401 JSON answer is not a
    # script, so the browser refuses to run it, and webpack reports it as a ChunkLoadError).
    logs = [
        entry
        for entry in dash_duo.get_logs()
        if "status of 401" not in entry["message"]
        and not (entry.get("source") == "console-api" and "dash_renderer" in entry["message"])
        and not (entry.get("source") == "console-api" and "ChunkLoadError" in entry["message"])
        and not (
            entry.get("source") == "security"
            and "/_dash-component-suites/" in entry["message"]
            and "MIME type ('application/json')" in entry["message"]
        )
    ]
    assert logs == []
