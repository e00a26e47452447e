"""`parley alerts --follow` is a live feed from now: the real command, in its own process, prints
each new alert as one JSON line and none of the alerts the party already had."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from parley.parties import keys

from .conftest import PartyHandle, Server
from .test_screening_hub import operation, site

CENTRE = (37.16, 36.20)
DEADLINE_S = 90


def _named(alert: dict[str, Any]) -> set[str]:
    """The records an alert names: its subject and its conflict's sides."""
    conflict = alert.get("conflict") or {}
    sides = ("record", "other", "site", "operation", "area", "movement", "other_operation")
    return {str(v) for v in [alert.get("record"), *(conflict.get(k) for k in sides)] if v}


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_follow_prints_only_alerts_raised_after_it_started(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    alpha, relief = parties["alpha"], parties["relief"]
    with server.client(alpha) as a, server.client(relief) as r:
        a.submit("operation", operation(*CENTRE, 2000))
        old = {r.submit("site", site(CENTRE[0] + 0.001 * i, CENTRE[1]))["id"] for i in range(3)}
        history = a.get("/api/v1/alerts")["items"]
        assert any(_named(i) & old for i in history), "the old sites raised alerts for alpha"
        last_old = max(i["cursor"] for i in history)

        key = tmp_path / "alpha.key.json"
        keys.write_private_key(key, alpha.key)
        env = {
            **os.environ,
            "PARLEY_HUB": server.url,
            "PARLEY_PARTY": alpha.id,
            "PARLEY_KEY": str(key),
            "PARLEY_TOKEN": alpha.token,
        }
        follow = subprocess.Popen(
            [sys.executable, "-m", "parley", "alerts", "--follow", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        printed: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_lines, args=(follow.stdout, printed), daemon=True)
        reader.start()
        try:
            # A site raised before the command read its starting point would count as past, so
            # keep notifying new ones until the feed shows one (bounded by count and time).
            new: set[str] = set()
            seen: list[dict[str, Any]] = []
            deadline = time.monotonic() + DEADLINE_S
            while not seen and time.monotonic() < deadline and len(new) < 30:
                lon = CENTRE[0] - 0.002 * (len(new) + 1)
                new.add(r.submit("site", site(lon, CENTRE[1]))["id"])
                try:
                    seen.append(json.loads(printed.get(timeout=3)))
                except queue.Empty:
                    assert follow.poll() is None, follow.stderr.read() if follow.stderr else ""
            assert seen, "no alert was printed by alerts --follow"
            time.sleep(1)
            while not printed.empty():
                seen.append(json.loads(printed.get_nowait()))
        finally:
            follow.terminate()
            follow.wait(timeout=10)
            reader.join(timeout=10)
            for pipe in (follow.stdout, follow.stderr):
                if pipe is not None:
                    pipe.close()

    for item in seen:
        assert int(str(item["cursor"])) > last_old, f"an alert from before --follow: {item}"
        assert _named(item) & new, f"an alert about something else: {item}"
        assert not _named(item) & old
