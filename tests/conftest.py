"""Shared test helpers: fixture files, the shared Okta samples, a fresh archive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from okta_calls.archive import Archive

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "okta-samples"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def archive() -> Archive:
    """An in-memory archive with the full schema."""
    with Archive(":memory:") as db:
        yield db


@pytest.fixture
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared Okta samples are not here ({SAMPLES}): they live beside the project checkout, not in it")
    return SAMPLES
