"""Run the KSeF sandbox, or prepare test material for it.

python -m integration.ksef_sandbox serve --host 127.0.0.1 --port 8765 --db ksef-sandbox.db
python -m integration.ksef_sandbox --db ... company --nip 1234563218 [--name ...]
python -m integration.ksef_sandbox --db ... person --nip 1234563218 --pesel 85021501233
python -m integration.ksef_sandbox cert-person --first-name Jan --last-name Kowalski \
    --pesel ... --out DIR
python -m integration.ksef_sandbox cert-seal --name "Firma" --nip ... --out DIR
python -m integration.ksef_sandbox --db ... token --nip CONTEXT \
    [--author-nip NIP | --author-pesel P] --permissions InvoiceRead InvoiceWrite
python -m integration.ksef_sandbox --db ... issue-invoice --seller 7770001111 \
    --buyer 1234563218 [--count 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app, ensure_keys
from integration.ksef_sandbox.cli import issue_invoices, make_company, make_person, make_token
from integration.ksef_sandbox.limits import Faults
from integration.ksef_sandbox.state import Store


def _db_url(path: str) -> str:
    return path if "://" in path else f"sqlite:///{Path(path).resolve()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integration.ksef_sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default="ksef-sandbox.db", help="state database (file or URL)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API under /v2")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--db", dest="serve_db", default=None)
    serve.add_argument(
        "--rate-limits",
        action="store_true",
        help="enforce the production rate limits (off by default)",
    )
    serve.add_argument(
        "--fault-error-rate",
        type=float,
        default=0.0,
        help="share of calls answered 503 before any work",
    )
    serve.add_argument(
        "--fault-drop-rate",
        type=float,
        default=0.0,
        help="share of calls answered 504 after the work was done",
    )
    serve.add_argument("--fault-latency", type=float, default=0.0, help="seconds added per call")
    company = sub.add_parser("company", help="register a test company")
    company.add_argument("--nip", required=True)
    company.add_argument("--name", default="Test company")
    person = sub.add_parser("person", help="link a person (PESEL) to a company NIP as its owner")
    person.add_argument("--nip", required=True)
    person.add_argument("--pesel", required=True)
    for name in ("cert-person", "cert-seal"):
        cert = sub.add_parser(name, help="write a self-signed test certificate and key (PEM)")
        cert.add_argument("--out", required=True)
        cert.add_argument("--nip")
        if name == "cert-person":
            cert.add_argument("--first-name", required=True)
            cert.add_argument("--last-name", required=True)
            cert.add_argument("--pesel")
        else:
            cert.add_argument("--name", required=True)
    token = sub.add_parser("token", help="mint an active KSeF token for a context")
    token.add_argument("--nip", required=True, help="context NIP")
    token.add_argument("--author-nip")
    token.add_argument("--author-pesel")
    token.add_argument("--permissions", nargs="+", default=["InvoiceRead", "InvoiceWrite"])
    invoice = sub.add_parser("issue-invoice", help="a counterparty issues invoices to a buyer")
    invoice.add_argument("--seller", required=True)
    invoice.add_argument("--buyer", required=True)
    invoice.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)

    if args.command == "serve":
        url = _db_url(args.serve_db or args.db)
        faults = Faults(
            error_rate=args.fault_error_rate,
            drop_rate=args.fault_drop_rate,
            latency_seconds=args.fault_latency,
        )
        app = create_sandbox_app(
            SandboxConfig(database_url=url, rate_limits=args.rate_limits, faults=faults)
        )
        app.run(host=args.host, port=args.port, threaded=True)
        return 0
    if args.command in ("cert-person", "cert-seal"):
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        material = (
            testkit.person_certificate(
                args.first_name, args.last_name, pesel=args.pesel, nip=args.nip
            )
            if args.command == "cert-person"
            else testkit.seal_certificate(args.name, args.nip)
        )
        (out / "certificate.pem").write_bytes(material.certificate_pem)
        (out / "private-key.pem").write_bytes(material.private_key_pem)
        print(f"wrote {out / 'certificate.pem'} and {out / 'private-key.pem'}")
        return 0
    store = Store(_db_url(args.db))
    ensure_keys(store)
    if args.command == "company":
        make_company(store, args.nip, args.name)
        print(f"company {args.nip} registered")
    elif args.command == "person":
        make_person(store, args.nip, args.pesel)
        print(f"PESEL {args.pesel} is an owner of NIP {args.nip}")
    elif args.command == "token":
        ref, secret = make_token(
            store,
            args.nip,
            args.permissions,
            author_nip=args.author_nip,
            author_pesel=args.author_pesel,
        )
        print(f"reference {ref}\ntoken {secret}")
    elif args.command == "issue-invoice":
        for number in issue_invoices(
            store, args.seller, args.buyer, args.count, dt.datetime.now(dt.UTC)
        ):
            print(number)
    return 0


if __name__ == "__main__":
    sys.exit(main())
