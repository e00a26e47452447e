"""How a TAXII collection is named from its audience: pure rules, shared by the store (which looks
collections up by audience) and ``parley.intel.collections`` (which serves them).

Collection ids are UUIDv5 under :data:`NAMESPACE`, from the audience, so every process (and the
sync of signed submissions) derives the same id without asking anyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

NAMESPACE = uuid.UUID("0f3e6c1a-4a52-5d0e-9b1e-6c7061726c65")
ALL = "all"


def key_of(audience: Iterable[str] | None) -> str:
    """``all`` for every party, else the sorted, comma-separated party ids."""
    return ALL if audience is None else ",".join(sorted(set(audience)))


def id_of(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))
