"""The pages' forms: a readable message on errors, CSRF-protected, POST-redirect-GET.

These read the pages in English (the test client asks for it); the Polish pages are proven
in ``test_polish.py``, ``test_areas.py`` and in the browser journeys."""

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, World


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_sign_in_form_leads_to_the_list_of_clients(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world("web")
    page = client.get("/login")
    assert page.status_code == 200
    r = client.post(
        "/login",
        data={"email": w.accountant_email, "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    assert r.status_code == 303
    overview = client.get("/")
    assert "Client web0" in overview.text
    assert "Client web1" in overview.text


def test_wrong_password_shows_a_readable_message(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": w.admin_email, "password": "wrong", "csrf_token": _csrf(page.text)},
        headers={"Accept-Language": "pl-PL,pl;q=0.9"},
    )
    assert r.status_code == 401
    assert "Nieprawidłowy e-mail lub hasło." in r.text


def test_form_without_csrf_token_is_refused_with_an_html_page(client: FlaskClient) -> None:
    r = client.post(
        "/login", data={"email": "a@b.example", "password": "x"}, headers={"Accept": "text/html"}
    )
    assert r.status_code == 400
    assert r.mimetype == "text/html"
    assert "reload the page" in r.text
    assert 'lang="en"' in r.text


def test_unknown_page_is_an_html_404_for_browsers(client: FlaskClient) -> None:
    r = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert "Request id" in r.text


def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=/"


def test_expired_setup_link_shows_a_readable_message(client: FlaskClient) -> None:
    page = client.get("/setup-password")
    r = client.post(
        "/setup-password",
        data={"token": "bogus", "password": "long enough pass", "csrf_token": _csrf(page.text)},
    )
    assert r.status_code == 422
    assert "invalid or has expired" in r.text


def test_overview_shows_the_registration_prompt_and_its_buttons_work(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world("lic")
    page = client.get("/login")
    client.post(
        "/login",
        data={"email": w.admin_email, "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    overview = client.get("/")
    assert "60 days left" in overview.text
    assert "data-confirm=" in overview.text.split('value="do_not_register"')[1].split(">")[0]
    assert "Register now" in overview.text
    token = _csrf(overview.text)
    declined = client.post(
        f"/clients/{w.client_ids[0]}/registration",
        data={"action": "do_not_register", "csrf_token": token},
        follow_redirects=True,
    )
    assert "now read-only" in declined.text
    refused = client.post(
        f"/clients/{w.client_ids[1]}/registration",
        data={"action": "register", "csrf_token": token},
        follow_redirects=True,
    )
    assert "seats are taken" in refused.text  # no licence yet: zero seats


def test_licence_panel_prompts_for_a_number_and_explains_a_typo(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    page = client.get("/login")
    client.post(
        "/login",
        data={"email": w.admin_email, "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    panel = client.get(f"/bureaus/{w.bureau_id}/licence")
    assert "has no licence" in panel.text
    r = client.post(
        f"/bureaus/{w.bureau_id}/licence",
        data={
            "action": "number",
            "number": "44G70-50000-002G0-H41TY-2MZE6-BT54",
            "csrf_token": _csrf(panel.text),
        },
    )
    assert r.status_code == 422
    assert "typo" in r.text
    assert 'value="44G70-50000-002G0-H41TY-2MZE6-BT54"' in r.text  # what was typed stays


def test_ksef_page_downloads_a_file_to_sign_and_explains_a_bad_upload(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    page = client.get("/login")
    client.post(
        "/login",
        data={"email": w.admin_email, "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    ksef = client.get(f"/clients/{w.client_ids[0]}/ksef")
    assert "cannot work in KSeF" in ksef.text
    token = _csrf(ksef.text)
    download = client.post(
        f"/clients/{w.client_ids[0]}/ksef", data={"action": "prepare", "csrf_token": token}
    )
    assert download.mimetype == "application/xml"
    assert b"AuthTokenRequest" in download.data
    name = download.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    unsigned = client.post(
        f"/clients/{w.client_ids[0]}/ksef",
        content_type="multipart/form-data",
        data={"action": "signed", "csrf_token": token, "file": (io.BytesIO(download.data), name)},
    )
    assert unsigned.status_code == 422
    assert "not signed" in unsigned.text


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class _Form:
    """A page's form, signed in, with its CSRF token."""

    client: FlaskClient
    url: str
    token: str

    def post(self, **data: object) -> TestResponse:
        return self.client.post(self.url, data={"csrf_token": self.token, **data})


def _people_page(client: FlaskClient, w: World, email: str) -> _Form:
    _signed_in_page(client, email)
    url = f"/bureaus/{w.bureau_id}/people"
    return _Form(client, url, _csrf(client.get(url).text))


def _signed_in_page(client: FlaskClient, email: str) -> None:
    page = client.get("/login")
    client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )


def test_master_data_page_adds_edits_and_explains_a_bad_entry(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    _signed_in_page(client, w.accountant_email)
    url = f"/clients/{w.client_ids[0]}/master-data"
    page = client.get(url)
    assert page.status_code == 200
    token = _csrf(page.text)
    added = client.post(
        url,
        data={"csrf_token": token, "kind": "products", "action": "add", "name": "Audyt",
              "unit": "h", "vat_rate": "23", "net_price": "250,00"},
    )  # fmt: skip
    assert added.status_code == 303
    added = client.get(added.headers["Location"])
    assert "Audyt added." in added.text
    entry = re.search(r'name="record_id" value="(\d+)"', added.text)
    assert entry is not None
    bad = client.post(
        url,
        data={"csrf_token": token, "kind": "products", "action": "save",
              "record_id": entry.group(1), "name": "Audyt", "vat_rate": "17", "net_price": "x"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert "vat_rate" in bad.text
    assert "net_price" in bad.text
    listed = client.get(f"{url}?kind=products&q=aud")
    assert 'value="250.00"' in listed.text
    exported = client.get(f"/clients/{w.client_ids[0]}/master-data/products.csv")
    assert "Audyt;h;23;250,00" in exported.text  # as Polish Excel opens it
    commas = client.get(f"/clients/{w.client_ids[0]}/master-data/products.csv?separator=comma")
    assert "Audyt,h,23,250.00" in commas.text


def test_licence_page_exports_the_bureau_and_explains_a_bad_import(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    _signed_in_page(client, w.admin_email)
    page = client.get(f"/bureaus/{w.bureau_id}/licence")
    assert f"/bureaus/{w.bureau_id}/export.zip" in page.text
    export = client.get(f"/bureaus/{w.bureau_id}/export.zip")
    assert export.mimetype == "application/zip"
    refused = client.post(
        f"/bureaus/{w.bureau_id}/licence",
        data={
            "csrf_token": _csrf(page.text),
            "action": "import",
            "file": (io.BytesIO(_zip({"notes.txt": b"hello"})), "b.zip"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "manifest.json is missing" in refused.text


def test_overview_adds_a_client_and_explains_a_bad_nip(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    _signed_in_page(client, w.accountant_email)
    token = _csrf(client.get("/").text)
    bad = client.post(
        f"/bureaus/{w.bureau_id}/clients",
        data={"csrf_token": token, "nip": "1234567890", "name": "Zła Firma"},
        follow_redirects=True,
    )
    assert bad.status_code == 422
    assert 'class="field-error"' in bad.text.split('id="new-nip"')[1]  # beside the field
    assert 'value="Zła Firma"' in bad.text  # what was typed stays
    assert "Zła Firma</a>" not in bad.text
    added = client.post(
        f"/bureaus/{w.bureau_id}/clients",
        data={"csrf_token": token, "nip": "111-222-33-32", "name": "Nowa Firma"},
        follow_redirects=True,
    )
    assert "Nowa Firma was added" in added.text
    assert "Not registered" in added.text


def test_people_page_invites_changes_roles_and_deactivates(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    page = _people_page(client, w, w.admin_email)
    invited = page.post(
        action="invite",
        first_name="Nowa",
        last_name="Księgowa",
        email="nowa@biuro.example",
        pesel="",
        role="accountant",
    )
    assert invited.status_code == 303, invited.text
    invited = page.client.get(invited.headers["Location"])
    assert "nowa@biuro.example is invited" in invited.text
    assert re.search(r"<title>People · [^<]+ · Delegat</title>", invited.text)
    assert invited.text.count("<h2>API clients</h2>") == 1
    rows = invited.text.split("<tbody>")[1].split("<tr")
    row = next(r for r in rows if "nowa@biuro.example" in r)
    new_id = re.search(r'name="user_id" value="(\d+)"', row)
    assert new_id is not None
    promoted = page.post(action="role", user_id=new_id.group(1), role="bureau_admin")
    assert "is now bureau admin" in page.client.get(promoted.headers["Location"]).text
    off = page.post(action="deactivate", user_id=new_id.group(1))
    assert "can no longer sign in" in page.client.get(off.headers["Location"]).text
    assert page.post(action="invite", email="x").status_code == 422


def test_accountants_cannot_invite_people_to_the_bureau(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    refused = _people_page(client, w, w.accountant_email).post(
        action="invite",
        first_name="A",
        last_name="B",
        email="ab@biuro.example",
        role="bureau_admin",
    )
    assert refused.status_code == 422
    assert "only a bureau admin" in refused.text


def test_people_page_creates_an_api_client_whose_secret_works_until_revoked(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    page = _people_page(client, w, w.admin_email)
    created = page.post(
        action="api-client", name="ERP", role="accountant", scopes=["clients:read", "invoices:read"]
    )
    assert created.status_code == 303, created.text
    created = client.get(created.headers["Location"])
    shown = re.search(r"Client id <code>([^<]+)</code>, secret <code>([^<]+)</code>", created.text)
    assert shown is not None
    machine = (shown.group(1), shown.group(2))
    erp = client.application.test_client()
    granted = erp.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=machine)
    assert granted.status_code == 200
    assert granted.json["scope"] == "clients:read invoices:read"
    assert shown.group(2) not in client.get(page.url).text  # shown once
    row = created.text.split(shown.group(1))[-1]
    api_client_id = re.search(r'name="api_client_id" value="(\d+)"', row)
    assert api_client_id is not None
    revoked = page.post(action="revoke-api-client", api_client_id=api_client_id.group(1))
    assert "is revoked" in client.get(revoked.headers["Location"]).text
    refused = erp.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=machine)
    assert refused.status_code == 401


def test_every_page_renders_one_plain_title_and_one_main(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    _signed_in_page(client, w.admin_email)
    c = w.client_ids[0]
    for url in (
        "/",
        f"/bureaus/{w.bureau_id}/licence",
        f"/bureaus/{w.bureau_id}/people",
        f"/bureaus/{w.bureau_id}/invoices",
        f"/clients/{c}/invoices",
        f"/clients/{c}/ksef",
        f"/clients/{c}/master-data",
        f"/clients/{c}/people",
        f"/clients/{c}/settings",
        f"/clients/{c}/audit",
        f"/bureaus/{w.bureau_id}/audit",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        titles = re.findall(r"<title>([^<]*)</title>", page.text)
        assert len(titles) == 1, url
        assert titles[0].endswith("Delegat"), url
        assert page.text.count("<main>") == 1, url


def test_signing_in_never_sends_the_browser_to_another_site(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/", "/%0d%0a"):
        page = client.get("/login")
        signed = client.post(
            f"/login?next={target}",
            data={"email": w.admin_email, "password": PASSWORD, "csrf_token": _csrf(page.text)},
        )
        assert signed.status_code == 303
        location = signed.headers["Location"]
        assert location.startswith("/"), location
        assert not location.startswith(("//", "/\\")), location
        client.post("/logout", data={"csrf_token": _csrf(client.get("/password").text)})
