"""Schemas the sandbox validates with, compiled once, resolved locally (never the network)."""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

from lxml import etree

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
CATALOG_NS = "{urn:oasis:names:tc:entity:xmlns:xml:catalog}"
FA3_NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
FA3_ENTRY = "http://crd.gov.pl/wzor/2025/06/25/13775/schemat.xsd"
AUTH_NAMESPACES = ("http://ksef.mf.gov.pl/auth/token/2.0", "http://ksef.mf.gov.pl/auth/token/2.1")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@functools.cache
def catalog() -> dict[str, bytes]:
    """Absolute schema URL → schema bytes, read from the catalog's package files."""
    tree = etree.parse(str(SCHEMAS_DIR / "catalog.xml"), _parser())
    out: dict[str, bytes] = {}
    for entry in tree.getroot().iter(f"{CATALOG_NS}uri"):
        target = entry.get("uri", "")
        if not target.startswith("package:"):
            raise ValueError(f"catalog entry {target!r} is not a package file")
        out[entry.get("name", "")] = package_file(target[len("package:") :]).read_bytes()
    return out


def package_file(path: str) -> Path:
    """A data file of an installed distribution, found without importing its code."""
    package, _, resource = path.partition("/")
    dist = importlib.metadata.distribution(package.replace("_", "-"))
    located = Path(str(dist.locate_file(f"{package}/{resource}")))
    if not located.is_file():
        raise FileNotFoundError(f"{path} is not installed; is {dist.name} present?")
    return located


class _CatalogResolver(etree.Resolver):
    def resolve(self, system_url: str, public_id: str, context: object):  # type: ignore[no-untyped-def, override]
        data = catalog().get(system_url)
        if data is None:
            raise LookupError(f"schema {system_url} is not in the local catalog")
        return self.resolve_string(data, context, base_url=system_url)


@functools.cache
def fa3() -> etree.XMLSchema:
    parser = _parser()
    parser.resolvers.add(_CatalogResolver())
    doc = etree.fromstring(catalog()[FA3_ENTRY], parser, base_url=FA3_ENTRY)
    return etree.XMLSchema(etree.ElementTree(doc))


@functools.cache
def auth_token_request(namespace: str) -> etree.XMLSchema:
    if namespace not in AUTH_NAMESPACES:
        raise ValueError(namespace)
    text = (SCHEMAS_DIR / "auth_token_request.xsd").read_text(encoding="utf-8")
    text = text.replace(AUTH_NAMESPACES[0], namespace)
    return etree.XMLSchema(etree.fromstring(text.encode(), _parser()))
