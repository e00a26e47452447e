"""The rule on STIX references: an object may name another only within that one's audience.

A STIX object names others in its ``*_ref`` and ``*_refs`` properties (a relationship's source
and target, a report's objects, and on nearly every object its author's identity and its
markings). Each one that is intelligence the author may see must be visible to the whole of the
new object's audience through at least one of its records. Ids the hub does not hold (or not for
the author) are the author's own business: nothing of the hub's is revealed by them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from parley.records import audiences
from parley.store.db import Party

if TYPE_CHECKING:
    from parley.hub.context import Context

Held = list[frozenset[str] | None]
_asked: ContextVar[dict[tuple[str, str], Held] | None] = ContextVar("stix_refs", default=None)


@contextmanager
def one_group() -> Iterator[None]:
    """While a group of submissions is checked, nothing of it is stored yet, so what the store
    holds under a referenced id is asked once, not once per object: a TAXII envelope's hundred
    objects usually all name the same identity and marking (each asking took about 2 ms)."""
    token = _asked.set({})
    try:
        yield
    finally:
        _asked.reset(token)


def check(
    ctx: Context, party: Party, body: dict[str, Any], audience: tuple[str, ...] | None
) -> None:
    for key, value in body.items():
        if key.endswith("_ref") and isinstance(value, str):
            named = [(f"body.{key}", value)]
        elif key.endswith("_refs") and isinstance(value, list):
            named = [(f"body.{key}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str)]
        else:
            continue
        for where, stix_id in named:
            held = _held(ctx, stix_id, party.id)
            if held and not any(audiences.within(audience, a) for a in held):
                audiences.require_within(
                    audience, held[0], what="object", subject_name="object", refers=where
                )


def _held(ctx: Context, stix_id: str, viewer: str) -> Held:
    asked = _asked.get()
    if asked is None:
        return ctx.store.intelligence_audiences(stix_id, viewer)
    key = (stix_id, viewer)
    if key not in asked:
        asked[key] = ctx.store.intelligence_audiences(stix_id, viewer)
    return asked[key]
