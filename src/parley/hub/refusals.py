"""Refused authentications, counted per party and source address, with an operator alarm.

Counts live in memory (they restart with the hub) and are written, at most twice a second, to
``refused-authentications.json`` in the data directory (mode 0600): the hub operator reads them
with ``parley party list``, and no party can, since there is no operator token to ask the API
with. ``ALARM_AFTER`` refusals for one (party, address) within ``ALARM_WINDOW_S`` log a warning
and put an alarm on /healthz until the window has passed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from parley import clock

FILE = "refused-authentications.json"
ALARM_AFTER = 20
ALARM_WINDOW_S = 300.0
MAX_SOURCES = 10_000  # an attacker with many addresses cannot grow this without bound
FLUSH_DELAY_S = 0.5

log = logging.getLogger("parley.auth")


class _Count:
    def __init__(self) -> None:
        self.total = 0
        self.last = ""
        self.recent: deque[float] = deque(maxlen=ALARM_AFTER)
        self.warned_at = -ALARM_WINDOW_S


class Refusals:
    def __init__(self, data_dir: Path | None) -> None:
        self._path = None if data_dir is None else data_dir / FILE
        self._lock = threading.Lock()
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()
        self._timer: threading.Timer | None = None
        self._closed = False

    def refused(self, party_id: str | None, source: str | None, reason: str) -> None:
        key = (party_id or "", source or "")
        now = time.monotonic()
        with self._lock:
            count = self._counts.pop(key, None) or _Count()
            self._counts[key] = count  # most recent last, so the oldest go first
            while len(self._counts) > MAX_SOURCES:
                self._counts.popitem(last=False)
            count.total += 1
            count.last = clock.iso(clock.now())
            count.recent.append(now)
            alarming = self._alarming(count, now)
            if alarming and now - count.warned_at > ALARM_WINDOW_S:
                count.warned_at = now
                log.warning(
                    "%d refused authentications in %d s from %s (party %s), last: %s",
                    ALARM_AFTER,
                    ALARM_WINDOW_S,
                    source or "an unknown address",
                    party_id or "none: no valid token",
                    reason,
                )
            if self._path is not None and self._timer is None and not self._closed:
                self._timer = threading.Timer(FLUSH_DELAY_S, self.flush)
                self._timer.daemon = True
                self._timer.start()

    @staticmethod
    def _alarming(count: _Count, now: float) -> bool:
        return len(count.recent) == ALARM_AFTER and now - count.recent[0] <= ALARM_WINDOW_S

    def counts(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            return [
                {
                    "party": party or None,
                    "source": source or None,
                    "refused": c.total,
                    "last": c.last,
                    "alarm": self._alarming(c, now),
                }
                for (party, source), c in self._counts.items()
            ]

    def alarms(self) -> list[str]:
        return [
            f"repeated refused authentications from {c['source'] or 'an unknown address'}"
            + (f" with the token of party {c['party']}" if c["party"] else "")
            for c in self.counts()
            if c["alarm"]
        ]

    def flush(self) -> None:
        with self._lock:
            self._timer = None
        if self._path is None:
            return
        text = json.dumps({"written_at": clock.iso(clock.now()), "refusals": self.counts()})
        temporary = self._path.with_name(f".{FILE}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        os.replace(temporary, self._path)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            self.flush()


def read(data_dir: Path) -> list[dict[str, Any]]:
    """What the running hub last wrote, for ``parley party list``: [] if it wrote nothing."""
    try:
        found = json.loads((data_dir / FILE).read_text())
    except (OSError, ValueError):
        return []
    refusals = found.get("refusals") if isinstance(found, dict) else None
    return refusals if isinstance(refusals, list) else []
