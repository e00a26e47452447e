"""Known-answer vectors, committed beside the tests so a bare clone runs them (see
tests/log/vectors/: RFC 6962/9162 Merkle vectors, Apache-2.0; signed-note vectors, BSD-3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def merkle_vectors() -> Any:
    return load("merkle-vectors.json")


@pytest.fixture(scope="session")
def note_vectors() -> Any:
    return load("signed-note-vectors.json")
