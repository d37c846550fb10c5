"""The OpenAPI schema documents every operation, its authentication and its errors, and the docs pages serve it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from tasks.conditional import IF_MATCH_PATTERN
from tasks.text import TEXT_PATTERN

LIST = "/api/{user_id}/tasks/"
DETAIL = "/api/{user_id}/tasks/{id}/"
COMPLETE = "/api/{user_id}/tasks/{id}/complete/"
RESTORE = "/api/{user_id}/tasks/{id}/restore/"
MOVE = "/api/{user_id}/tasks/{id}/move/"
CHANGES = "/api/{user_id}/tasks/changes/"
BODY_METHODS = {"post", "put", "patch"}
LOCAL_ASSET = re.compile(r'(?:src|href)="(/static/drf_spectacular_sidecar/[^"]+)"')
SCRIPT_SRC = re.compile(r'<script src="([^"]+)"')


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in schema["paths"].items() for method, operation in item.items()]


def parameters(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(parameter["in"], parameter["name"]): parameter for parameter in operation["parameters"]}


def component(schema: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def json_schema(response: dict[str, Any]) -> dict[str, str]:
    return response["content"]["application/json"]["schema"]


def test_the_schema_generates_and_validates_without_a_warning(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert yaml.safe_load(target.read_text())["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"path": "/api/schema/?format=json"},
        {"path": "/api/schema/", "HTTP_ACCEPT": "application/vnd.oai.openapi+json"},
        {"path": "/api/schema/", "HTTP_ACCEPT": "application/json"},
    ],
    ids=["format-param", "openapi-json-accept", "json-accept"],
)
def test_the_schema_is_served_as_openapi_json(client: Client, db: None, request_kwargs: dict[str, str]) -> None:
    response = client.get(**request_kwargs)

    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert LIST in body["paths"]


def test_the_schema_is_public_even_when_a_stale_token_is_sent(client: Client, db: None) -> None:
    assert client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer expired.or.junk").status_code == 200


def test_the_schema_is_served_as_openapi_yaml_by_default(client: Client, db: None) -> None:
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    body = yaml.safe_load(response.content)
    assert body["openapi"].startswith("3.")
    assert LIST in body["paths"]


def test_every_operation_requires_the_bearer_scheme(schema: dict[str, Any]) -> None:
    assert schema["components"]["securitySchemes"] == {
        "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    for path, method, operation in operations(schema):
        assert operation["security"] == [{"BearerAuth": []}], (path, method)


def test_every_operation_has_a_summary_a_description_and_an_explicit_id(schema: dict[str, Any]) -> None:
    ids = {(path, method): operation["operationId"] for path, method, operation in operations(schema)}

    assert ids == {
        (LIST, "get"): "tasks_list",
        (LIST, "post"): "tasks_create",
        (DETAIL, "get"): "tasks_retrieve",
        (f"{LIST}batch/", "post"): "tasks_batch",
        (DETAIL, "put"): "tasks_update",
        (DETAIL, "patch"): "tasks_partial_update",
        (DETAIL, "delete"): "tasks_destroy",
        (COMPLETE, "patch"): "tasks_complete",
        (RESTORE, "post"): "tasks_restore",
        (MOVE, "post"): "tasks_move",
        (CHANGES, "get"): "tasks_changes",
    }
    for path, method, operation in operations(schema):
        assert operation["summary"] and operation["description"], (path, method)
        assert operation["tags"] == ["tasks"], (path, method)


def test_path_parameters_are_typed_and_described(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        params = parameters(operation)
        user_id = params[("path", "user_id")]
        assert user_id["schema"]["type"] == "string"
        assert "token's user id" in user_id["description"]
        if "{id}" in path:
            assert params[("path", "id")]["schema"]["type"] == "integer"
            assert params[("path", "id")]["description"]
        else:
            assert ("path", "id") not in params, (path, method)


def test_every_operation_documents_the_errors_it_can_answer_with(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert {"400", "401", "403", "404", "405", "406", "415", "429", "500", "503"} <= responses.keys(), (
            path,
            method,
        )
        if method in BODY_METHODS:
            assert "413" in responses, (path, method)
            bad_request = component(schema, json_schema(responses["400"]))
            assert set(bad_request["discriminator"]["mapping"]) == {"validation_error", "client_error"}


def error_codes(schema: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """The codes a ``{"type", "errors": [{"code", "detail", "attr"}]}`` error response documents."""
    body = component(schema, json_schema(response))
    error = component(schema, body["properties"]["errors"]["items"])
    return component(schema, error["properties"]["code"])["enum"]


def test_errors_are_documented_in_the_standardized_shape_with_our_codes(schema: dict[str, Any]) -> None:
    responses = schema["paths"][LIST]["post"]["responses"]
    codes = {status: error_codes(schema, responses[status]) for status in ("401", "403", "404", "413", "415", "503")}

    assert codes == {
        "401": ["not_authenticated", "token_expired", "token_invalid"],
        "403": ["permission_denied"],
        "404": ["not_found"],
        "413": ["request_too_large"],
        "415": ["unsupported_media_type"],
        "503": ["service_unavailable"],
    }
    assert responses["401"]["headers"]["WWW-Authenticate"]


def test_the_list_documents_its_filters_ordering_and_pagination(schema: dict[str, Any]) -> None:
    operation = schema["paths"][LIST]["get"]
    params = parameters(operation)

    assert params[("query", "completed")]["schema"] == {"type": "string", "enum": ["false", "true"]}
    assert params[("query", "priority")]["schema"] == {"type": "string", "enum": ["high", "low", "medium"]}
    ordering = params[("query", "ordering")]
    fields = ["created_at", "updated_at", "title", "priority", "due_date", "completed", "completed_at", "position"]
    assert sorted(ordering["schema"]["items"]["enum"]) == sorted(fields + [f"-{field}" for field in fields])
    assert (ordering["style"], ordering["explode"]) == ("form", False)
    assert params[("query", "limit")]["schema"]["type"] == "integer"
    assert params[("query", "offset")]["schema"]["type"] == "integer"
    assert params[("query", "search")]["schema"]["type"] == "string"
    assert params[("query", "due_before")]["schema"]["format"] == "date-time"
    assert params[("query", "due_after")]["schema"]["format"] == "date-time"
    assert params[("query", "completed_before")]["schema"]["format"] == "date-time"
    assert params[("query", "completed_after")]["schema"]["format"] == "date-time"
    assert params[("query", "deleted")]["schema"] == {"type": "string", "enum": ["false", "true"]}
    page = component(schema, json_schema(operation["responses"]["200"]))
    assert set(page["properties"]) == {"count", "next", "previous", "results"}


def test_a_bad_list_parameter_is_documented_as_a_validation_error_naming_it(schema: dict[str, Any]) -> None:
    bad_request = component(schema, json_schema(schema["paths"][LIST]["get"]["responses"]["400"]))
    validation = component(schema, {"$ref": bad_request["discriminator"]["mapping"]["validation_error"]})
    errors = component(schema, validation["properties"]["errors"]["items"])

    attrs = set(errors["discriminator"]["mapping"])
    parameters = {
        *("deleted", "completed", "recurring", "priority", "due_before", "due_after"),
        *("completed_before", "completed_after", "ordering", "search", "limit", "offset", "tag", "parent"),
    }
    # None: the whole query string, past API_MAX_QUERY_STRING.
    assert attrs == parameters | {None}


def validation_attrs(schema: dict[str, Any], operation: dict[str, Any]) -> set[str | None]:
    bad_request = component(schema, json_schema(operation["responses"]["400"]))
    validation = component(schema, {"$ref": bad_request["discriminator"]["mapping"]["validation_error"]})
    return set(component(schema, validation["properties"]["errors"]["items"])["discriminator"]["mapping"])


def test_every_unsafe_task_operation_documents_idempotency_keys(schema: dict[str, Any]) -> None:
    unsafe = [
        (path, method, op) for path, method, op in operations(schema) if method in {"post", "put", "patch", "delete"}
    ]
    assert {(path, method) for path, method, _ in unsafe} >= {
        (LIST, "post"),
        (DETAIL, "put"),
        (DETAIL, "patch"),
        (DETAIL, "delete"),
        (COMPLETE, "patch"),
    }
    for path, method, operation in unsafe:
        key = parameters(operation)[("header", "Idempotency-Key")]
        responses = operation["responses"]

        assert key["schema"]["maxLength"] == 255 and "422" in key["description"], (path, method)
        assert error_codes(schema, responses["409"]) == ["idempotency_key_in_use"], (path, method)
        assert responses["409"]["headers"]["Retry-After"]
        assert error_codes(schema, responses["422"]) == ["idempotency_key_reused"], (path, method)
        # A batch's 400 names attributes made up as it goes (operations.<index>.<field>): no closed list to check.
        if not path.endswith("/batch/"):
            assert "Idempotency-Key" in validation_attrs(schema, operation), (path, method)
        success = next(status for status in responses if status.startswith("2"))
        assert responses[success]["headers"]["Idempotent-Replayed"], (path, method)
        examples = {**responses["409"]["content"]["application/json"]["examples"]}
        assert examples["IdempotencyKeyInUse"]["value"]["errors"][0]["code"] == "idempotency_key_in_use"


def test_reads_take_no_idempotency_key(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        if method == "get":
            assert ("header", "Idempotency-Key") not in parameters(operation), path
            assert not {"409", "422"} & operation["responses"].keys(), path


def test_complete_is_a_patch_with_an_optional_body_returning_the_task(schema: dict[str, Any]) -> None:
    item = schema["paths"][COMPLETE]
    operation = item["patch"]

    assert set(item) == {"patch"}
    assert not operation["requestBody"].get("required", False)
    body = component(schema, json_schema(operation["requestBody"]))
    assert set(body["properties"]) == {"completed"} and not body.get("required")
    assert json_schema(operation["responses"]["200"]) == {"$ref": "#/components/schemas/Task"}


def test_create_shows_a_request_and_a_response_example(schema: dict[str, Any]) -> None:
    operation = schema["paths"][LIST]["post"]

    request_example = next(iter(operation["requestBody"]["content"]["application/json"]["examples"].values()))
    assert request_example["value"]["title"]
    created = operation["responses"]["201"]
    response_example = next(iter(created["content"]["application/json"]["examples"].values()))
    assert {"id", "user_id", "title", "created_at"} <= response_example["value"].keys()
    assert created["headers"]["Location"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_their_scripts_from_this_server(client: Client, db: None, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    scripts = SCRIPT_SRC.findall(html)
    assert scripts and all(src.startswith("/static/drf_spectacular_sidecar/") for src in scripts)


def test_the_docs_assets_are_served_with_debug_off(client: Client, db: None) -> None:
    assert settings.DEBUG is False
    assets = LOCAL_ASSET.findall(client.get("/api/docs/").content.decode())
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)

    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()


def constraints(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a schema."""
    if isinstance(node, dict):
        return ([node[key]] if key in node else []) + [
            found for value in node.values() for found in constraints(value, key)
        ]
    if isinstance(node, list):
        return [found for item in node for found in constraints(item, key)]
    return []


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_render_the_schema_written_for_people(client: Client, db: None, path: str) -> None:
    assert "/api/schema/docs/" in client.get(path).content.decode()


def test_the_docs_schema_says_in_words_what_the_served_schema_says_in_regexes(client: Client, db: None) -> None:
    served = client.get("/api/schema/?format=json").json()
    for_people = client.get("/api/schema/docs/?format=json").json()

    # A user id without "/" reads well; the rest are for machines.
    assert set(constraints(for_people, "pattern")) == {"^[^/]+$"}
    assert constraints(for_people, "not") == []
    assert all(maximum <= 1000 for maximum in constraints(for_people, "maximum"))
    title = for_people["components"]["schemas"]["Task"]["properties"]["title"]
    assert "Not blank" in title["description"] and "NUL" in title["description"]
    # The served schema keeps them, for clients and schemathesis to check.
    assert TEXT_PATTERN in constraints(served, "pattern")
    assert IF_MATCH_PATTERN in constraints(served, "pattern")
    assert constraints(served, "not")


@pytest.mark.parametrize("path", ["/api/schema/?format=json", "/api/schema/", "/api/schema/docs/?format=json"])
def test_the_task_schemas_come_first(client: Client, db: None, path: str) -> None:
    body = yaml.safe_load(client.get(path).content)

    assert list(body["components"]["schemas"])[:2] == ["Task", "TaskRequest"]


def test_restore_is_a_post_without_a_body_under_if_match_returning_the_task(schema: dict[str, Any]) -> None:
    item = schema["paths"][RESTORE]
    operation = item["post"]

    assert set(item) == {"post"}
    assert "requestBody" not in operation
    assert {("header", "If-Match"), ("path", "id")} <= parameters(operation).keys()
    assert "deleted tasks" in parameters(operation)[("path", "id")]["description"]
    assert json_schema(operation["responses"]["200"]) == {"$ref": "#/components/schemas/Task"}
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "412" in operation["responses"]


def test_a_task_shows_its_completion_and_deletion_times_read_only(schema: dict[str, Any]) -> None:
    task = schema["components"]["schemas"]["Task"]["properties"]
    request = schema["components"]["schemas"]["TaskRequest"]["properties"]

    for name in ("completed_at", "deleted_at"):
        assert task[name]["format"] == "date-time" and task[name]["readOnly"] and task[name]["nullable"], name
        assert name not in request


def test_move_is_a_post_of_a_neighbour_or_a_parent_under_if_match_returning_the_task(schema: dict[str, Any]) -> None:
    item = schema["paths"][MOVE]
    operation = item["post"]

    assert set(item) == {"post"}
    body = component(schema, json_schema(operation["requestBody"]))
    assert set(body["properties"]) == {"before", "after", "parent_id"}
    # Something, and not both neighbours.
    assert (body["additionalProperties"], body["minProperties"]) == (False, 1)
    assert body["not"] == {"required": ["before", "after"]}
    assert all(body["properties"][name]["minimum"] == 1 for name in ("before", "after", "parent_id"))
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert [example["value"] for example in examples.values()] == [
        {"before": 17},
        {"after": 17},
        {"parent_id": 42},
        {"parent_id": None, "after": 17},
    ]
    assert {("header", "If-Match"), ("path", "id")} <= parameters(operation).keys()
    assert json_schema(operation["responses"]["200"]) == {"$ref": "#/components/schemas/Task"}
    assert {"before", "after", "parent_id", "non_field_errors", "If-Match"} <= validation_attrs(schema, operation)
    assert "412" in operation["responses"]


def test_a_task_shows_its_position_read_only_and_the_list_orders_by_it(schema: dict[str, Any]) -> None:
    task = schema["components"]["schemas"]["Task"]
    ordering = parameters(schema["paths"][LIST]["get"])[("query", "ordering")]

    assert task["properties"]["position"]["type"] == "string" and task["properties"]["position"]["readOnly"]
    assert "byte by byte" in task["properties"]["position"]["description"]
    assert "position" not in schema["components"]["schemas"]["TaskRequest"]["properties"]
    assert {"position", "-position"} <= set(ordering["schema"]["items"]["enum"])
    assert list(task["properties"])[-2:] == ["position", "version"]
