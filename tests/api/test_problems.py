"""Every error a user can provoke through the API is RFC 9457 problem+json below 500."""

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import World

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_malformed_json_is_400(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    client = login(w.admin_email)
    r = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients", data=b"{not json", content_type="application/json"
    )
    assert_problem(r, 400)


def test_missing_credentials_are_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    r = client.get("/api/v1/me")
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_invalid_bearer_token_is_401(client: FlaskClient) -> None:
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert_problem(r, 401)


def test_unknown_route_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_unknown_object_is_404(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    assert_problem(login(w.admin_email).get("/api/v1/clients/999999"), 404)


def test_wrong_method_is_405_with_allow_header(client: FlaskClient) -> None:
    r = client.delete("/api/v1/bureaus")
    assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]


def test_oversized_body_is_413(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    client = login(w.admin_email)
    huge = '{"name": "' + "x" * (70 * 1024) + '", "nip": "1234563218"}'
    r = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients", data=huge, content_type="application/json"
    )
    assert_problem(r, 413)


def test_schema_violation_is_422_listing_each_field(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    client = login(w.admin_email)
    r = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={"email": "a@b.example", "role": "janitor", "surprise": 1},
    )
    body = assert_problem(r, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"first_name", "last_name", "role", "surprise"} <= fields


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"nip": "5260250275", "name": "X"}, "nip"),
        ({"nip": "1112223332", "name": "   "}, "name"),
    ],
)
def test_domain_validation_is_422_naming_the_field(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World], payload: dict, field: str
) -> None:
    w = make_world()
    r = login(w.admin_email).post(f"/api/v1/bureaus/{w.bureau_id}/clients", json=payload)
    body = assert_problem(r, 422)
    assert body["errors"] == [{"field": field, "message": body["errors"][0]["message"]}]


def test_invalid_pesel_is_422_naming_pesel(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    r = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={
            "email": "new@x.example",
            "first_name": "N",
            "last_name": "M",
            "role": "accountant",
            "pesel": "85021501234",
        },
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "pesel"
    assert "check digit" in body["detail"]


def test_bad_query_parameter_is_422(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    r = login(w.admin_email).get(f"/api/v1/bureaus/{w.bureau_id}/clients?per_page=100000")
    assert_problem(r, 422)


def test_duplicate_client_nip_is_409(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    client = login(w.admin_email)
    ok = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients", json={"nip": "1112223332", "name": "A"}
    )
    assert ok.status_code == 201
    again = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients", json={"nip": "111-222-33-32", "name": "B"}
    )
    body = assert_problem(again, 409)
    assert body["client_id"] == ok.json["id"]


def test_session_write_without_json_content_type_is_refused(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    r = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/clients", data={"nip": "1112223332", "name": "A"}
    )
    assert_problem(r, 403)


@pytest.mark.parametrize(
    "payload",
    [
        {"nip": "1112223332", "name": "nul\x00byte"},
        {"nip": "1112223332", "name": "lone \ud800 surrogate"},
        {"nip": "1112223332\x00", "name": "x"},
    ],
)
def test_unstorable_text_is_400_and_nothing_is_written(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World], payload: dict
) -> None:
    w = make_world()
    http = login(w.admin_email)
    r = http.post(f"/api/v1/bureaus/{w.bureau_id}/clients", json=payload)
    assert_problem(r, 400)
    assert http.get(f"/api/v1/bureaus/{w.bureau_id}/clients").json["total"] == 2


def test_nul_in_login_and_token_endpoint_is_a_client_error(client: FlaskClient) -> None:
    r = client.post("/api/v1/auth/login", json={"email": "a\x00@b.example", "password": "x"})
    assert_problem(r, 400)
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "x\x00", "client_secret": "y"},
    )
    assert 400 <= token.status_code < 500


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/clients/99999999999999999999",
        "/api/v1/bureaus/2147483648/clients",
        "/api/v1/clients/-1",
    ],
)
def test_out_of_range_ids_are_404(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World], path: str
) -> None:
    w = make_world()
    assert_problem(login(w.admin_email).get(path), 404)


def test_huge_page_number_is_422(
    login: Callable[[str], FlaskClient], make_world: Callable[..., World]
) -> None:
    w = make_world()
    r = login(w.admin_email).get(f"/api/v1/bureaus/{w.bureau_id}/clients?page=99999999999999")
    assert_problem(r, 422)


def test_forged_request_id_header_is_replaced(client: FlaskClient) -> None:
    r = client.get("/api/v1/me", headers={"X-Request-Id": "evil value; with spaces"})
    assert r.headers["X-Request-Id"] != "evil value; with spaces"
    assert (
        client.get("/api/v1/me", headers={"X-Request-Id": "abc-123"}).json["request_id"]
        == "abc-123"
    )
