"""The storage contract, one implementation for SQLite and PostgreSQL: :class:`Store`.

``Store`` is a facade over one module per concern (parties, submissions, conflicts, alerts,
webhooks, the log, and the TAXII index as ``store.intel``); every SQL statement of the product is
in ``parley.store``. Every read that returns a record takes the viewing party and filters by
audience in SQL (:func:`visible_to`): there is no unfiltered read path for the API to call by
mistake. Writes are called from a single writer thread per process (see ``parley.hub.writer``);
on PostgreSQL several processes may write at once and queue on the ``log_state`` row lock, which
is what keeps the log free of gaps and forks.
"""

from __future__ import annotations

from sqlalchemy import Connection as Transaction

from parley.store.alerts import Alerts
from parley.store.base import sqlite_url, visible_to
from parley.store.conflicts import Conflicts
from parley.store.intel import IntelTables
from parley.store.log_keys import LogKeys
from parley.store.log_state import LogState
from parley.store.parties import Parties
from parley.store.rows import (
    REPLAYED,
    Alert,
    LogRecord,
    NewSubmission,
    Party,
    StoredConflict,
    Submission,
)
from parley.store.submissions import Submissions, WithinCommit
from parley.store.webhooks import Webhooks

__all__ = [
    "REPLAYED",
    "Alert",
    "LogRecord",
    "NewSubmission",
    "Party",
    "Store",
    "StoredConflict",
    "Submission",
    "Transaction",
    "WithinCommit",
    "sqlite_url",
    "visible_to",
]


class Store(Parties, Submissions, Conflicts, Alerts, Webhooks, LogState, LogKeys):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.intel = IntelTables(self)

    def intelligence_audiences(self, stix_id: str, viewer: str) -> list[frozenset[str] | None]:
        """See :meth:`IntelTables.audiences`."""
        return self.intel.audiences(stix_id, viewer)
