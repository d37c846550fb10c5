"""The contract's corners through a production server on PostgreSQL: OPTIONS, task-id spellings, caching
headers, and JSON from every route outside the admin's pages."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Client, Response, Server, serve

pytestmark = pytest.mark.reliability

USER = "corners-2b7e4f1a-user"
TASKS = f"/api/{USER}/tasks"


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(server_env, tmp_path_factory.mktemp("corners") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def task_id(server: Server) -> int:
    return Client(server, token=mint_token(USER)).json("POST", f"{TASKS}/", {"title": "A corner"}).json()["id"]


def user(server: Server) -> Client:
    return Client(server, token=mint_token(USER))


def assert_json_error(response: Response, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert response.error_code == code


@pytest.mark.parametrize("route", ["/", "/{id}/", "/{id}/complete/"])
def test_options_on_a_task_route_lists_its_methods(server: Server, task_id: int, route: str) -> None:
    # On PostgreSQL DRF's own metadata answered a 500: it read the task "for update" outside a transaction.
    response = user(server).request("OPTIONS", TASKS + route.format(id=task_id))

    assert response.status == 200, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert "OPTIONS" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_options_on_the_docs_lists_their_methods(server: Server, path: str) -> None:
    response = Client(server).request("OPTIONS", path)

    assert response.status == 200, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


# The other methods fail the CSRF check first (below), and TRACE never gets this far: the edge refuses it for
# every route (test_edge.py).
@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_the_probes_answer_options_with_a_json_405(server: Server, path: str) -> None:
    response = Client(server).request("OPTIONS", path)

    assert_json_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/health", "/ready"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_csrf_failure_outside_the_admin_is_a_json_403(server: Server, path: str, method: str) -> None:
    assert_json_error(Client(server).request(method, path, b"{}"), 403, "permission_denied")


def test_a_csrf_failure_in_the_admin_is_djangos_page(server: Server) -> None:
    response = Client(server).request("POST", "/admin/login/", b"username=a&password=b")

    assert response.status == 403
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
@pytest.mark.parametrize(
    ("method", "query", "headers", "status", "code"),
    [
        ("GET", "?format=xml", {}, 404, "not_found"),
        ("GET", "", {"Accept": "application/xml"}, 406, "not_acceptable"),
        ("POST", "", {}, 405, "method_not_allowed"),
    ],
    ids=["unknown-format", "unacceptable-accept", "post"],
)
def test_errors_of_the_docs_are_json(
    server: Server, path: str, method: str, query: str, headers: dict[str, str], status: int, code: str
) -> None:
    assert_json_error(Client(server).request(method, path + query, headers=headers), status, code)


# Each spelling Python's int() reads as the task's id; the full-width one percent-encoded, as a client sends it.
SPELLINGS = {
    "sign": "+{id}",
    "leading-zero": "0{id}",
    "leading-zeros": "000{id}",
    "underscore": "0_{id}",
    "space-before": "%20{id}",
    "space-after": "{id}%20",
    "full-width": "{full_width}",
}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "OPTIONS"])
def test_only_the_canonical_task_id_reaches_the_task(server: Server, task_id: int, method: str, spelling: str) -> None:
    full_width = urllib.parse.quote(str(task_id).translate(FULL_WIDTH))
    path = f"{TASKS}/{spelling.format(id=task_id, full_width=full_width)}/"

    assert_json_error(user(server).json(method, path, {"title": "x"}), 404, "not_found")
    assert user(server).request("GET", f"{TASKS}/{task_id}/").json()["title"] == "A corner"


@pytest.mark.parametrize(("path", "status"), [("/", 200), ("/{id}/", 200), ("/99999999/", 404)])
def test_task_answers_are_private_and_revalidated(server: Server, task_id: int, path: str, status: int) -> None:
    response = user(server).request("GET", TASKS + path.format(id=task_id))

    assert response.status == status
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in response.headers["Vary"]


def test_a_body_that_is_not_json_is_a_415_naming_application_json(server: Server) -> None:
    response = user(server).request(
        "POST", f"{TASKS}/", b"title=x", {"Content-Type": "application/x-www-form-urlencoded"}
    )

    assert_json_error(response, 415, "unsupported_media_type")
    assert '"Content-Type: application/json"' in response.json()["errors"][0]["detail"]


def test_another_authorization_scheme_is_told_to_send_a_bearer_token(server: Server) -> None:
    response = Client(server).request("GET", f"{TASKS}/", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})

    assert_json_error(response, 401, "not_authenticated")
    assert "Authorization: Bearer <token>" in response.json()["errors"][0]["detail"]
