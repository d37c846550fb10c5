"""A front end in a real (headless) Chromium, on another origin, using the API's ETags through CORS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from authjwt.tokens import mint_token
from todo_project.tests.servers import Server, serve

pytestmark = pytest.mark.reliability

USER = "browser-5e2a9c1d-user"
# What a front end does with one task: create it, write it only if unchanged (If-Match), revalidate its
# copy (If-None-Match). Every header it reads must be exposed, every header it sends allowed by CORS.
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>A front end</title></head><body><script>
async function useConditionalRequests(tasks, token) {
  const auth = {"Authorization": `Bearer ${token}`};
  const json = {...auth, "Content-Type": "application/json"};
  const created = await fetch(`${tasks}/`, {method: "POST", headers: json, body: JSON.stringify({title: "Read"})});
  const task = await created.json();
  const etag = created.headers.get("ETag");
  const url = `${tasks}/${task.id}/`;
  const write = (ifMatch, title) =>
    fetch(url, {method: "PATCH", headers: {...json, "If-Match": ifMatch}, body: JSON.stringify({title})});
  const patched = await write(etag, "Written");
  const currentEtag = patched.headers.get("ETag");
  const stale = await write(etag, "Lost");
  const revalidated = await fetch(url, {headers: {...auth, "If-None-Match": currentEtag}});
  return {
    created: created.status, etag, location: created.headers.get("Location"), id: task.id,
    patched: patched.status, currentEtag, title: (await patched.json()).title,
    stale: stale.status, staleBody: await stale.json(),
    revalidated: revalidated.status,
  };
}

async function tryToRead(url, headers) {
  try {
    const response = await fetch(url, {headers});
    return {status: response.status, body: await response.text()};
  } catch (error) {
    return {error: error.name};
  }
}
</script></body></html>"""


class PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass


@contextmanager
def page_origin() -> Iterator[str]:
    """The page served on a free loopback port, in a thread; yields its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[str, str]]:
    """An origin the API allows, and one it does not."""
    with page_origin() as allowed, page_origin() as other:
        yield allowed, other


@pytest.fixture(scope="module")
def api(
    server_env: dict[str, str], origins: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    env = {**server_env, "CORS_ALLOWED_ORIGINS": origins[0]}
    with serve(env, tmp_path_factory.mktemp("cors") / "server.log") as server:
        yield server


def run(browser: WebDriver, script: str, *args: Any) -> Any:
    """Call one of the page's functions and wait for what it resolves to."""
    browser.set_script_timeout(30)
    return browser.execute_async_script(
        f"const done = arguments[arguments.length - 1];"
        f"{script}(...Array.from(arguments).slice(0, -1)).then(done, error => done({{thrown: String(error)}}));",
        *args,
    )


def test_a_page_on_an_allowed_origin_makes_conditional_requests(
    api: Server, origins: tuple[str, str], browser: WebDriver
) -> None:
    browser.get(origins[0])

    outcome = run(browser, "useConditionalRequests", f"{api.url}/api/{USER}/tasks", mint_token(USER))

    assert "thrown" not in outcome, outcome
    assert outcome["created"] == 201
    assert outcome["etag"] and outcome["etag"].startswith('"')
    assert outcome["location"].endswith(f"/api/{USER}/tasks/{outcome['id']}/")
    assert (outcome["patched"], outcome["title"]) == (200, "Written")
    assert outcome["currentEtag"] not in (None, outcome["etag"])
    assert outcome["stale"] == 412
    assert outcome["staleBody"]["errors"][0]["code"] == "precondition_failed"
    assert outcome["revalidated"] == 304


def test_a_page_on_another_origin_cannot_read_the_api(
    api: Server, origins: tuple[str, str], browser: WebDriver
) -> None:
    browser.get(origins[1])
    tasks = f"{api.url}/api/{USER}/tasks/"

    with_token = run(browser, "tryToRead", tasks, {"Authorization": f"Bearer {mint_token(USER)}"})
    without = run(browser, "tryToRead", tasks, {})

    # The preflight (with a token) and the response itself (without) carry no permission for this origin.
    assert with_token == {"error": "TypeError"}
    assert without == {"error": "TypeError"}


def test_the_same_requests_are_readable_from_the_allowed_origin(
    api: Server, origins: tuple[str, str], browser: WebDriver
) -> None:
    # The other half of the previous test: the refusal is the origin's, not the requests'.
    browser.get(origins[0])
    tasks = f"{api.url}/api/{USER}/tasks/"

    assert run(browser, "tryToRead", tasks, {"Authorization": f"Bearer {mint_token(USER)}"})["status"] == 200
    assert run(browser, "tryToRead", tasks, {})["status"] == 401
