"""One hardened parser: no entities, no DTDs, no network, bounded size.

Every XML document that enters the service (invoices, signed requests, UPOs) is parsed here.
"""

from __future__ import annotations

from lxml import etree

from integration.core.errors import ValidationFailed

DEFAULT_MAX_BYTES = 1024 * 1024  # the KSeF limit for one invoice without attachments


class XmlRejected(ValidationFailed):
    slug, title = "xml-rejected", "The XML document was rejected"


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=False,
    )


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, field: str = "xml") -> etree._Element:
    """Parse ``data`` or raise :class:`XmlRejected` with a reason a person can act on."""
    if len(data) > max_bytes:
        raise XmlRejected.single(field, f"the document exceeds {max_bytes} bytes")
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise XmlRejected.single(field, "DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRejected.single(field, f"not well-formed XML: {exc.msg}") from None
    if root is None:
        raise XmlRejected.single(field, "the document is empty")
    return root
