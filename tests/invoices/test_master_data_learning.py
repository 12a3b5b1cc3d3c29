"""Counterparties and products are learnt from the client's invoices, never over a person's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from integration.core.db import db
from integration.invoices import jobs
from integration.invoices.learning import read_facts
from integration.invoices.models import Direction, Invoice
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import issue_invoices
from integration.masterdata.models import Counterparty, Product
from integration.masterdata.service import CounterpartyFacts, ProductFacts, learn
from tests.conftest import World
from tests.invoices.conftest import BUYER_NIP, Connected, sandbox_store

SUPPLIER = "7740001454"


def _items(http: FlaskClient, client_id: int, kind: str, **query: str) -> list[dict]:  # type: ignore[type-arg]
    response = http.get(f"/api/v1/clients/{client_id}/{kind}", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["items"]  # type: ignore[no-any-return]


def test_sent_and_downloaded_invoices_fill_the_clients_master_data(
    ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    connected.send("L/1")
    connected.send("L/2")
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, SUPPLIER, connected.nip, 2, store.now())
    settle()
    assert http.post(f"/api/v1/clients/{client_id}/invoices/sync", json={}).status_code == 202
    settle()

    parties = {p["nip"]: p for p in _items(http, client_id, "counterparties")}
    assert set(parties) == {BUYER_NIP, SUPPLIER}  # the customer once, the supplier once
    assert parties[BUYER_NIP]["name"] == "Nabywca Sp. z o.o."
    assert parties[BUYER_NIP]["address"] == "ul. Krzywa 2, 30-001 Kraków"
    assert parties[SUPPLIER]["source"] == "invoice"
    products = _items(http, client_id, "products")
    assert [(p["name"], p["vat_rate"], p["net_price"], p["unit"]) for p in products] == [
        ("Usługa księgowa", "23", "100.00", "szt.")
    ]
    # The supplier's lines are what the client buys, not what it sells
    assert all(p["source"] == "invoice" for p in products)


def test_what_a_person_entered_is_not_overwritten_by_later_invoices(
    connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    entered = http.post(
        f"/api/v1/clients/{client_id}/products",
        json={"name": "Usługa księgowa", "vat_rate": "23", "net_price": "450.00", "unit": "mies."},
    )
    assert entered.status_code == 201, entered.json
    connected.send("P/1")
    settle()
    products = _items(http, client_id, "products")
    assert [(p["net_price"], p["unit"], p["source"]) for p in products] == [
        ("450.00", "mies.", "manual")
    ]
    assert [p["nip"] for p in _items(http, client_id, "counterparties")] == [BUYER_NIP]


def test_invoices_whose_learning_job_was_lost_are_found_by_the_periodic_sweep(
    app: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    connected.send("Q/1")
    settle()
    with app.app_context():  # as if the job had never run, and the master data was emptied
        db.session.execute(update(Invoice).values(master_data_at=None))
        db.session.commit()
    http.delete(
        f"/api/v1/clients/{client_id}/counterparties/"
        f"{_items(http, client_id, 'counterparties')[0]['id']}"
    )
    assert _items(http, client_id, "counterparties") == []
    with app.app_context():
        assert jobs.learn_all_master_data() == 1
    settle()
    assert [p["nip"] for p in _items(http, client_id, "counterparties")] == [BUYER_NIP]
    with app.app_context():
        assert jobs.learn_all_master_data() == 0  # nothing left to read


def _invoice(**kwargs: object) -> bytes:
    defaults: dict[str, object] = {
        "seller_nip": "5260250274",
        "buyer_nip": SUPPLIER,
        "number": "F/1",
        "issue_date": dt.date(2026, 11, 2),
    }
    return testkit.fa3_invoice(**{**defaults, **kwargs})  # type: ignore[arg-type]


def test_a_foreign_buyer_without_nip_is_kept_with_its_country() -> None:
    xml = _invoice(buyer_name="Kunde GmbH").replace(
        f"<NIP>{SUPPLIER}</NIP><Nazwa>".encode(),
        b"<KodUE>DE</KodUE><NrVatUE>811569869</NrVatUE><Nazwa>",
    )
    xml = xml.replace(
        b"<KodKraju>PL</KodKraju><AdresL1>ul. Krzywa", b"<KodKraju>DE</KodKraju><AdresL1>ul. Krzywa"
    )
    facts = read_facts(xml, Direction.SALES)
    assert facts.counterparty is not None
    assert (facts.counterparty.nip, facts.counterparty.name, facts.counterparty.country) == (
        None,
        "Kunde GmbH",
        "DE",
    )


def test_a_cost_invoice_yields_its_seller_and_no_products() -> None:
    facts = read_facts(_invoice(seller_name="Dostawca S.A."), Direction.COST)
    assert facts.counterparty is not None
    assert (facts.counterparty.nip, facts.counterparty.name) == ("5260250274", "Dostawca S.A.")
    assert facts.products == []


def test_a_line_without_unit_price_is_priced_from_its_value_and_quantity() -> None:
    xml = _invoice(net=Decimal("300.00")).replace(b"<P_8B>1</P_8B>", b"<P_8B>3</P_8B>")
    xml = xml.replace(b"<P_9A>300.00</P_9A>", b"")
    (product,) = read_facts(xml, Direction.SALES).products
    assert product.net_price == Decimal("100.00")


def test_corrections_teach_their_party_but_not_prices() -> None:
    facts = read_facts(_invoice(invoice_type="KOR"), Direction.SALES)
    assert facts.counterparty is not None
    assert facts.products == []


def test_an_unreadable_document_teaches_nothing() -> None:
    facts = read_facts(b"<not-xml", Direction.SALES)
    assert (facts.counterparty, facts.products) == (None, [])


def test_learnt_prices_and_addresses_follow_newer_invoices_only(
    app: Flask, make_world: Callable[..., World]
) -> None:
    client_id = make_world().client_ids[0]

    def product(price: str, day: int) -> ProductFacts:
        return ProductFacts("Audyt", "h", "23", Decimal(price), dt.date(2026, 3, day))

    def party(address: str, day: int) -> CounterpartyFacts:
        return CounterpartyFacts(SUPPLIER, "Audytor", "PL", address, None, dt.date(2026, 3, day))

    with app.app_context():
        for facts in (
            ([party("Łódź", 10)], [product("100.00", 10)]),
            ([party("Kraków", 20)], [product("120.00", 20)]),  # newer: followed
            ([party("Gdańsk", 5)], [product("90.00", 5)]),  # older: ignored
        ):
            learn(db.session, client_id, *facts)
            db.session.commit()
        row = db.session.scalar(select(Product).where(Product.client_id == client_id))
        known = db.session.scalar(select(Counterparty).where(Counterparty.client_id == client_id))
        assert row is not None
        assert known is not None
        assert (row.net_price, row.learnt_on) == (Decimal("120.00"), dt.date(2026, 3, 20))
        assert known.address == "Kraków"
        row.source = "manual"  # a person's edit
        db.session.commit()
        learn(db.session, client_id, [], [product("150.00", 25)])
        db.session.commit()
        assert db.session.scalar(select(Product.net_price).where(Product.id == row.id)) == Decimal(
            "120.00"
        )
