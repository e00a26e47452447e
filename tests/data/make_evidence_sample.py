"""Write tests/data/evidence-sample.json from an evidence file, for the page's node tests.

The page checks evidence files itself (web/src/evidence.js); web/test/evidence.test.mjs holds it
to what parley's Python checker says about a real file: the same lines as ``parley verify
evidence``, and the same items failing when a byte is flipped. The file came from
tests/test_evidence.py's scenario (a site notified, acknowledged by alpha, an operation by
charlie conflicting with it, the alert delivered and acknowledged, the site withdrawn), made for
charlie::

    .venv/bin/python tests/data/make_evidence_sample.py EVIDENCE.json LOG_KEY
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from parley.client import evidence as ev
from parley.client.evidence_check import check
from parley.client.evidence_page import text_lines

OUT = Path(__file__).resolve().parent / "evidence-sample.json"
FLIPS = 40


def failing(data: bytes, log_key: str) -> dict[str, Any]:
    """What the Python checker says of a file: the error that stops it, or the failing labels."""
    try:
        report = check(ev.load(data), log_key)
    except ev.EvidenceError as exc:
        return {"error": exc.detail}
    return {"labels": [c.label for c in [*report.checks, *report.timeline] if not c.ok]}


def build(path: Path, log_key: str) -> str:
    raw = path.read_bytes()
    report = check(ev.load(raw), log_key)
    assert report.ok, report.failures()
    flips = []
    for position in random.Random(18).sample(range(len(raw)), FLIPS):
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        flips.append({"position": position, **failing(bytes(flipped), log_key)})
    sample = {
        "log_key": log_key,
        "file": raw.decode("utf-8"),
        "lines": text_lines(report),
        "flips": flips,
    }
    return json.dumps(sample, ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(build(Path(sys.argv[1]), sys.argv[2]), encoding="utf-8")
