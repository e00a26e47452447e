"""The hub's Prometheus metrics, each updated at the one place its event happens.

Scrapers are not parties: nothing here is labelled by party, record or address. Submissions are
counted by kind only when the hub accepted them (the kind of every accepted entry is as public
as the log's size); a refused one is counted as kind "unknown" so that what a client wrote can
never become a label.
"""

from __future__ import annotations

import collections
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

SUBMISSIONS = Counter(
    "parley_submissions",
    "Submissions received, by kind (accepted ones) and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
SCREENING_SECONDS = Histogram(
    "parley_screening_seconds",
    "Time to screen a group of newly stored records for conflicts",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SSE_CLIENTS = Gauge(
    "parley_sse_clients", "Alert streams (Server-Sent Events) open now", registry=REGISTRY
)
REFUSED_AUTHENTICATIONS = Counter(
    "parley_refused_authentications",
    "Requests refused for a missing or unknown bearer token",
    registry=REGISTRY,
)
_published_at = [time.time()]
CHECKPOINT_AGE = Gauge(
    "parley_checkpoint_age_seconds",
    "Seconds since this process last published a checkpoint (or started); the hub signs one "
    "only when the log has grown, so an idle log ages without fault",
    registry=REGISTRY,
)
CHECKPOINT_AGE.set_function(lambda: time.time() - _published_at[0])

ACCEPTED = "accepted"
REPLAYED = "replayed"
REFUSED = "refused"
UNKNOWN_KIND = "unknown"


def checkpoint_published(_size: int) -> None:
    """A HubLog listener: called after each publication."""
    _published_at[0] = time.time()


def submissions(outcomes: Iterable[tuple[str | None, str]]) -> None:
    """Count a request's submissions by (kind, outcome): one label lookup per pair, not per
    submission (a TAXII envelope is a hundred)."""
    for (kind, outcome), count in collections.Counter(outcomes).items():
        SUBMISSIONS.labels(kind=kind or UNKNOWN_KIND, outcome=outcome).inc(count)


async def counted_stream(events: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """An SSE body that counts itself open until the client goes away or it ends."""
    SSE_CLIENTS.inc()
    try:
        async for event in events:
            yield event
    finally:
        SSE_CLIENTS.dec()
        if isinstance(events, AsyncGenerator):
            await events.aclose()  # its own clean-up runs now, as if it were the body
