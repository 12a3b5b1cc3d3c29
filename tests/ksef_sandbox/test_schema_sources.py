"""The FA(3) schemas come from the pinned ksef-client package, as schemas/SOURCES.md records."""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import re
from pathlib import Path

import pytest
from lxml import etree

from integration.ksef_sandbox import schemas
from tests.reference import require_reference

ROOT = Path(__file__).resolve().parents[2]
XSD = "{http://www.w3.org/2001/XMLSchema}"


def _our_table() -> dict[str, tuple[str, str]]:
    """file → (sha256 as shipped, sha256 of the Ministry copy) from schemas/SOURCES.md."""
    rows = re.findall(
        r"\| `([^`]+\.xsd)` \| \d+ \| `([0-9a-f]{64})` \| `([0-9a-f]{64})` \|",
        (ROOT / "schemas" / "SOURCES.md").read_text(encoding="utf-8"),
    )
    return {name: (shipped, ministry) for name, shipped, ministry in rows}


def _reference_table() -> dict[str, str]:
    rows = re.findall(
        r"\| `(?:fa/|fa/bazowe/)?([^`/]+\.xsd)` \| `[^`]+` \| \d+ \| `([0-9a-f]{64})` \|",
        (require_reference() / "SOURCES.md").read_text(encoding="utf-8"),
    )
    return dict(rows)


def test_the_pinned_package_version_is_the_recorded_one() -> None:
    text = (ROOT / "schemas" / "SOURCES.md").read_text(encoding="utf-8")
    version = importlib.metadata.version("ksef-client")
    assert f"ksef-client=={version}" in text


def test_installed_files_have_the_recorded_hashes() -> None:
    table = _our_table()
    assert len(table) == 4
    for name, (shipped, _) in table.items():
        data = schemas.package_file(f"ksef_client/documents/fa3/schemas/{name}").read_bytes()
        assert hashlib.sha256(data).hexdigest() == shipped, name


def test_recorded_ministry_hashes_match_the_reference_sources() -> None:
    reference = _reference_table()
    for name, (_, ministry) in _our_table().items():
        assert reference[name] == ministry, name


def _components(data: bytes) -> bytes:
    """The schema without documentation and with include/import locations reduced to names."""
    root = etree.fromstring(data, etree.XMLParser(remove_blank_text=True, remove_comments=True))
    root = copy.deepcopy(root)
    for annotation in root.iter(f"{XSD}annotation"):
        annotation.getparent().remove(annotation)
    for ref in root.iter(f"{XSD}include", f"{XSD}import"):
        if ref.get("schemaLocation"):
            ref.set("schemaLocation", ref.get("schemaLocation", "").rsplit("/", 1)[-1])
    return etree.tostring(root, method="c14n")


@pytest.mark.parametrize(
    "name",
    [
        "schemat_FA(3)_v1-0E.xsd",
        "StrukturyDanych_v10-0E.xsd",
        "ElementarneTypyDanych_v10-0E.xsd",
        "KodyKrajow_v10-0E.xsd",
    ],
)
def test_shipped_schema_equals_the_ministry_copy_component_by_component(name: str) -> None:
    shipped = schemas.package_file(f"ksef_client/documents/fa3/schemas/{name}").read_bytes()
    folder = require_reference() / "fa"
    ministry_path = folder / name
    if not ministry_path.exists():
        ministry_path = folder / "bazowe" / name
    ours = _components(shipped)
    assert len(ours) > 5000  # the comparison covers real content
    assert ours == _components(ministry_path.read_bytes())


def test_schemas_resolve_without_the_network() -> None:
    assert schemas.fa3() is not None
    for url in schemas.catalog():
        assert url.startswith("http://crd.gov.pl/")
