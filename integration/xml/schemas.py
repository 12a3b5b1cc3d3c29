"""The official schemas the service validates documents with, compiled once and resolved
from local files only.

``schemas/catalog.xml`` names, for every absolute ``crd.gov.pl`` location, the installed
package file that holds it; xmlschema maps each location through that table, so a remote
schema is never fetched. xmlschema (not lxml) is used because a person reads the reason: it
names the element path and the line.
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

import xmlschema
from lxml import etree

from integration.core.errors import FieldError
from integration.xml.parsing import XmlRejected

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
_CATALOG_NS = "{urn:oasis:names:tc:entity:xmlns:xml:catalog}"
FA3_NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
_FA3_LOCATION = FA3_NAMESPACE + "schemat.xsd"
MAX_REASONS = 20


def _locate(target: str) -> str:
    if not target.startswith("package:"):
        raise ValueError(f"catalog entry {target!r} is not a package file")
    package, _, resource = target[len("package:") :].partition("/")
    dist = importlib.metadata.distribution(package.replace("_", "-"))
    located = Path(str(dist.locate_file(f"{package}/{resource}")))
    if not located.is_file():
        raise FileNotFoundError(f"{target} is not installed")
    return str(located)


@functools.cache
def _locations() -> dict[str, str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    catalog = etree.parse(str(SCHEMAS_DIR / "catalog.xml"), parser).getroot()
    return {
        entry.get("name", ""): _locate(entry.get("uri", ""))
        for entry in catalog.iter(f"{_CATALOG_NS}uri")
    }


@functools.cache
def fa3() -> xmlschema.XMLSchema:
    """The FA(3) schema (about half a second to compile; once per process)."""
    locations = _locations()
    return xmlschema.XMLSchema(
        locations[_FA3_LOCATION], uri_mapper=locations, allow="local", defuse="always"
    )


def check_fa3(root: etree._Element, *, field: str = "xml") -> None:
    """Raise :class:`XmlRejected` listing why ``root`` is not a valid FA(3) invoice."""
    if root.tag != f"{{{FA3_NAMESPACE}}}Faktura":
        raise XmlRejected.single(
            field, f"not an FA(3) invoice: the root element must be Faktura in {FA3_NAMESPACE}"
        )
    reasons: list[FieldError] = []
    for error in fa3().iter_errors(root):
        line = getattr(error, "sourceline", None)
        where = f"line {line}, " if line else ""
        reasons.append(FieldError(field, f"{where}{error.path}: {error.reason}"))
        if len(reasons) >= MAX_REASONS:
            break
    if reasons:
        raise XmlRejected(reasons, detail="the invoice does not conform to the FA(3) schema")
