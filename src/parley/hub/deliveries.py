"""Alert deliveries on the log: the first time each alert reached its party.

An alert reaches its party when an API read of /api/v1/alerts returns it, when the alert stream
sends it as an event, or when the party's webhook answers its POST with a 2xx. The first such
moment is recorded as a hub entry of kind ``alert-delivery`` (parley.hub.hubrecords), whose body
is the alert id, the party and the time and nothing else, restricted to that party: the public
log holds only its commitment, so it reveals no more than the log did before.

Deliveries are collected in memory and appended together, one round per checkpoint interval, so
a party polling its feed costs no log entry per request. Each alert's delivery record has a nonce
derived from the alert id: the store refuses a second one in the inserting transaction (a replay),
so an alert is recorded once even when several processes, or a restart, see it delivered again.
``alerts.delivered_seq`` then holds the entry's log index, so later reads skip the alert at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.hub import hubrecords
from parley.store.db import Alert, NewSubmission, Store

log = logging.getLogger("parley.hub.deliveries")

Append = Callable[[Sequence[NewSubmission]], "Future[list[int]]"]
APPEND_TIMEOUT_S = 60.0


class DeliveryLog:
    def __init__(
        self, store: Store, key: Ed25519PrivateKey, append: Append, interval_s: float
    ) -> None:
        self.store = store
        self.key = key
        self.append = append
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str]] = {}  # alert id -> (party, delivered at)
        self._hub_party = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-deliveries", daemon=True)
        self._thread.start()

    def delivered(self, party: str, alerts: Iterable[Alert]) -> None:
        """``alerts`` of ``party``'s reached it just now. Cheap: no database, no waiting."""
        at = clock.iso(clock.now())
        added = False
        with self._lock:
            for alert in alerts:
                if alert.delivered_seq is None and alert.id not in self._pending:
                    self._pending[alert.id] = (party, at)
                    added = True
        if added:
            self._wake.set()

    def flush(self) -> int:
        """Put every delivery collected so far on the log; the number of new entries."""
        with self._lock:
            taken, self._pending = self._pending, {}
        if not taken:
            return 0
        records = [
            hubrecords.delivery_record(self.key, alert, party, at)
            for alert, (party, at) in taken.items()
        ]
        try:
            if not self._hub_party:
                # The hub's records need its row in the parties table (made at the first one).
                hubrecords.ensure_hub_party(self.store, self.key)
                self._hub_party = True
            indices = self.append(records).result(timeout=APPEND_TIMEOUT_S)
            self.store.mark_delivered(
                {alert: hubrecords.delivery_nonce(alert) for alert in taken}, hubrecords.HUB
            )
        except Exception:
            # Not lost for good: the alert's next delivery queues it again.
            log.exception("recording %d alert deliveries failed", len(taken))
            return 0
        return sum(1 for i in indices if i >= 0)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5)
            self._wake.clear()
            if self._stop.is_set():
                return
            # Deliveries within one interval share a round of the writer.
            self._stop.wait(self.interval_s)
            self.flush()
