"""`parley verify evidence` prints each timeline item's audience once (it printed the receipt's
"audience: all" and then the timeline's "audience: all parties" for every notified record)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ParleyAs, PartyHandle, Server
from .test_evidence import offline, scenario


def test_each_timeline_item_says_its_audience_once(
    server: Server,
    parties: dict[str, PartyHandle],
    parley_as: ParleyAs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = scenario(server, parties, parley_as, tmp_path)
    offline(monkeypatch)
    args = ("verify", "evidence", str(s.file), "--log-key", s.log_key)
    found = json.loads(parley_as(parties["charlie"], *args, "--json").out)
    assert found["ok"], found["failures"]
    for item in found["timeline"]:
        said = [d for d in item["details"] if d.startswith("audience:")]
        # a logged record says it once; a conflict (the hub's, in the manifest) has none
        logged = any(d.startswith("log entry ") for d in item["details"])
        assert len(said) == (1 if logged else 0), item
    events = " ".join(item["event"] for item in found["timeline"])
    # the notified kinds, where it was said twice
    assert "notified site" in events and "notified operation" in events

    text = parley_as(parties["charlie"], *args)
    assert text.code == 0, text.err
    items: list[list[str]] = []
    timeline = text.out.split("timeline (UTC):\n", 1)[1].splitlines()
    for row in timeline:
        if row.startswith(" " * 24):
            items[-1].append(row.strip())
        elif row[:1].isdigit():  # an item: its time first
            items.append([])
    assert len(items) == len(found["timeline"])
    for details in items:
        logged = any(d.startswith("log entry ") for d in details)
        assert sum(d.startswith("audience:") for d in details) == logged, details
    assert "audience: all parties" in text.out
