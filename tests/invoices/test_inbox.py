"""The bureau's view of every client's invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

from integration.ksef_sandbox.cli import issue_invoices
from tests.conftest import World, signed_in
from tests.invoices.conftest import Connected, client_nip, invoice_xml, post_xml, sandbox_store

SUPPLIER = "7740001454"


def _arrivals(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> tuple[int, int]:
    """Two cost invoices of the connected client, one failed sales invoice of the other."""
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, SUPPLIER, connected.nip, 2, store.now())
    http, other = connected.http, connected.world.client_ids[1]
    assert http.post(f"/api/v1/clients/{connected.client_id}/invoices/sync", json={}).status_code
    failed = post_xml(
        http, f"/api/v1/clients/{other}/invoices", invoice_xml(client_nip(app, other), "FV/N/1")
    )
    assert failed.status_code == 202  # the other client has no KSeF credentials
    settle()
    return connected.client_id, other


def test_the_bureau_sees_new_cost_invoices_and_failures_of_every_client_in_one_list(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    first, other = _arrivals(app, ksef_sandbox, connected, settle)
    url = f"/api/v1/bureaus/{connected.world.bureau_id}/invoices"
    accountant = signed_in(app, connected.world.accountant_email)

    costs = accountant.get(url, query_string={"direction": "cost"}).json
    assert costs["total"] == 2
    assert {i["client_id"] for i in costs["items"]} == {first}
    name = accountant.get(f"/api/v1/clients/{first}").json["name"]
    assert {i["client_name"] for i in costs["items"]} == {name}
    assert {i["seller_nip"] for i in costs["items"]} == {SUPPLIER}

    trouble = accountant.get(url, query_string=[("state", "failed"), ("state", "rejected")]).json
    assert [(i["client_id"], i["number"]) for i in trouble["items"]] == [(other, "FV/N/1")]
    assert trouble["counts"]["sales"] == {"failed": 1}
    assert trouble["counts"]["cost"] == {"accepted": 2}

    only_other = accountant.get(url, query_string={"client_id": other}).json
    assert only_other["total"] == 1
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert accountant.get(url, query_string={"received_from": later}).json["total"] == 0


def test_client_people_and_other_bureaus_do_not_see_the_bureau_list(
    app: Flask, connected: Connected, make_world: Callable[..., World]
) -> None:
    url = f"/api/v1/bureaus/{connected.world.bureau_id}/invoices"
    assert signed_in(app, connected.world.client_admin_email).get(url).status_code == 404
    stranger = make_world()
    assert signed_in(app, stranger.admin_email).get(url).status_code == 404
    assert connected.http.get(url, query_string={"state": "lost"}).status_code == 422


def test_bureau_invoice_page_points_at_what_needs_attention(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    _, other = _arrivals(app, ksef_sandbox, connected, settle)
    page = connected.http.get(f"/bureaus/{connected.world.bureau_id}/invoices")
    assert page.status_code == 200
    assert "1 sales invoice was not sent or was rejected by KSeF" in page.text
    assert SUPPLIER in page.text
    attention = connected.http.get(
        f"/bureaus/{connected.world.bureau_id}/invoices", query_string={"view": "attention"}
    )
    assert "FV/N/1" in attention.text
    assert f"/clients/{other}/invoices" in attention.text


def test_cost_download_status_says_how_far_it_got_and_why_it_stopped(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    never = http.get(f"/api/v1/clients/{client_id}/invoices/sync").json
    assert never == {"synced_until": None, "last_run_at": None, "last_error": "", "downloaded": 0}
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, SUPPLIER, connected.nip, 2, store.now())
    assert http.post(f"/api/v1/clients/{client_id}/invoices/sync", json={}).status_code == 202
    settle()
    done = http.get(f"/api/v1/clients/{client_id}/invoices/sync").json
    assert done["downloaded"] == 2
    assert done["synced_until"] is not None
    assert done["last_error"] == ""
    page = http.get(f"/clients/{client_id}/invoices", query_string={"direction": "cost"})
    assert "(2 downloaded so far)" in page.text

    other = connected.world.client_ids[1]  # no KSeF credentials
    assert http.post(f"/api/v1/clients/{other}/invoices/sync", json={}).status_code == 202
    settle()
    stopped = http.get(f"/api/v1/clients/{other}/invoices/sync").json
    assert stopped["last_error"]
    assert (
        "The last download of cost invoices stopped" in http.get(f"/clients/{other}/invoices").text
    )
    overview = http.get("/").text
    assert overview.count("not connected") == 1  # the other client; the first is connected
