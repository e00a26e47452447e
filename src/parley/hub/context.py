"""What the rules of each kind, the housekeeping and the read helpers may use of the hub.

They receive this, never the :class:`~parley.hub.core.Hub`: a rule reads the settings, the store
and the live screening index, and cannot reach the writer, the log or the parties' tokens that
it runs inside of. The hub builds one and keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from parley.config import Settings
from parley.geo.region import Region
from parley.hub.deconfliction import Screening
from parley.store.db import Store


@dataclass(frozen=True)
class Context:
    settings: Settings
    store: Store
    screening: Screening
    # The area of service changes while the hub runs (``parley region set``): read it when asked.
    region_of: Callable[[], Region | None]

    @property
    def region(self) -> Region | None:
        return self.region_of()

    def members(self) -> set[str]:
        return {p.id for p in self.store.parties() if p.role == "member"}
