"""Where the Ministry's KSeF reference files are (open-api.json, XSDs, UPO examples).

They are not part of the project: conformance tests that compare with them take their folder
from ``DELEGAT_TEST_KSEF_REFERENCE`` (CI points it at ../shared/ksef/reference) and are
skipped, saying so, when it is not set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV = "DELEGAT_TEST_KSEF_REFERENCE"
SKIPPED = (
    f"the Ministry's KSeF reference files are not available: set {ENV} to their folder "
    "(../shared/ksef/reference beside the clone) to run this conformance test"
)


def reference_dir() -> Path | None:
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    return path if (path / "open-api.json").is_file() else None


def require_reference() -> Path:
    """The reference folder, or skip the calling test with the reason."""
    found = reference_dir()
    if found is None:
        pytest.skip(SKIPPED)
    return found


def header() -> str:
    found = reference_dir()
    if found is not None:
        return f"KSeF reference files: {found} (conformance tests run)"
    if os.environ.get(ENV):
        return (
            f"KSeF reference files: {ENV} names no folder with open-api.json; "
            "conformance tests are SKIPPED"
        )
    return f"KSeF reference files: {ENV} is not set; conformance tests are SKIPPED"
