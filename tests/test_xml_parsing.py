"""The hardened parser refuses entities, DTDs, oversize and malformed input with reasons."""

import pytest

from integration.xml import XmlRejected, parse


def test_well_formed_document_is_parsed() -> None:
    root = parse(b'<?xml version="1.0" encoding="UTF-8"?><Faktura><P_1>2026-01-02</P_1></Faktura>')
    assert root.findtext("P_1") == "2026-01-02"


def test_entity_expansion_is_refused() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
    <!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"""
    with pytest.raises(XmlRejected, match="DOCTYPE"):
        parse(bomb)


def test_external_entity_is_refused() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(XmlRejected) as info:
        parse(xxe)
    assert "root:" not in str(info.value)


def test_oversized_document_is_refused_before_parsing() -> None:
    with pytest.raises(XmlRejected, match="exceeds 100 bytes"):
        parse(b"<a>" + b"x" * 200 + b"</a>", max_bytes=100)


def test_malformed_document_names_the_problem() -> None:
    with pytest.raises(XmlRejected, match="not well-formed") as info:
        parse(b"<a><b></a>")
    assert info.value.errors[0].field == "xml"
