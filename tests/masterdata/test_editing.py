"""Counterparties and products edited by hand, one entry at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask

from integration.core import clock
from tests.conftest import World, signed_in


def test_a_counterparty_is_entered_found_changed_and_deleted(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    url = f"/api/v1/clients/{w.client_ids[0]}/counterparties"
    created = http.post(
        url, json={"nip": "526-025-02-74", "name": "Papiernik Sp. z o.o.", "address": "Łódź"}
    )
    assert created.status_code == 201, created.json
    assert (created.json["nip"], created.json["country"], created.json["source"]) == (
        "5260250274",
        "PL",
        "manual",
    )
    http.post(url, json={"name": "Kunde GmbH", "country": "de"})
    found = http.get(url, query_string={"q": "papier"}).json
    assert [c["name"] for c in found["items"]] == ["Papiernik Sp. z o.o."]
    assert http.get(url, query_string={"q": "52602"}).json["total"] == 1
    entry = f"{url}/{created.json['id']}"
    changed = http.patch(entry, json={"email": "biuro@papier.example"})
    assert changed.status_code == 200
    assert (changed.json["email"], changed.json["address"]) == ("biuro@papier.example", "Łódź")
    assert http.delete(entry).status_code == 204
    assert [c["name"] for c in http.get(url).json["items"]] == ["Kunde GmbH"]
    assert http.patch(entry, json={"name": "X"}).status_code == 404


def test_bad_entries_name_each_field_and_duplicates_conflict(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    url = f"/api/v1/clients/{w.client_ids[0]}/products"
    bad = http.post(url, json={"name": "", "vat_rate": "17", "net_price": "1.234"})
    assert bad.status_code == 422
    assert bad.mimetype == "application/problem+json"
    assert {e["field"] for e in bad.json["errors"]} == {"name", "vat_rate", "net_price"}
    ok = http.post(url, json={"name": "Eksport", "vat_rate": "0 wdt", "net_price": 10})
    assert ok.status_code == 201, ok.json
    assert (ok.json["vat_rate"], ok.json["net_price"], ok.json["unit"]) == (
        "0 WDT",
        "10.00",
        "szt.",
    )
    twice = http.post(url, json={"name": "Eksport", "vat_rate": "23", "net_price": "1"})
    assert twice.status_code == 409
    assert twice.json["id"] == ok.json["id"]
    unknown = http.post(url, json={"name": "A", "vat_rate": "23", "net_price": "1", "colour": "x"})
    assert unknown.status_code == 422


def test_entries_of_another_tenant_are_invisible_and_client_users_only_read(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w, other = make_world(), make_world()
    http = signed_in(app, w.admin_email)
    created = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/counterparties", json={"name": "Tajny Kontrahent"}
    ).json
    stranger = signed_in(app, other.admin_email)
    assert stranger.get(f"/api/v1/clients/{w.client_ids[0]}/counterparties").status_code == 404
    # an entry id of one client is not reachable through another client of the same bureau
    assert (
        http.delete(f"/api/v1/clients/{w.client_ids[1]}/counterparties/{created['id']}").status_code
        == 404
    )
    owner = signed_in(app, w.client_admin_email)
    assert len(owner.get(f"/api/v1/clients/{w.client_ids[0]}/counterparties").json["items"]) == 1


def test_a_read_only_client_lists_its_master_data_but_refuses_changes(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    url = f"/api/v1/clients/{w.client_ids[0]}/products"
    assert http.post(url, json={"name": "A", "vat_rate": "23", "net_price": "1"}).status_code == 201
    frozen.advance(timedelta(days=61))
    http = signed_in(app, w.admin_email)  # a session lasts 12 hours
    refused = http.post(url, json={"name": "B", "vat_rate": "23", "net_price": "1"})
    assert refused.status_code == 409
    assert refused.json["type"].endswith("client-read-only")
    assert [p["name"] for p in http.get(url).json["items"]] == ["A"]
