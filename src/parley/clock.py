"""Times are UTC everywhere; stored and shown as ISO 8601 with a ``Z``."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from parley.errors import BadRequest

# Every time a client may give, however it is written. Beyond this the conversion to UTC can
# overflow (year 1 or 9999 with an offset), and nothing parley records is that far off anyway.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed width, so stored strings sort in time order on every backend: always six digits
    of microseconds, and a four-digit year (glibc's %Y writes year 999 as "999", which sorts
    after "2026"). isoformat, not strftime: three of these go into every submission, and
    strftime took twice as long."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse(text: object, field: str = "time") -> datetime:
    """The one reader of times from clients: ISO 8601 with a zone, between EARLIEST and LATEST,
    refused otherwise as a 400 naming ``field``."""
    if not isinstance(text, str):
        raise BadRequest(f"{field} must be an ISO 8601 time string", field=field)
    shown = text if len(text) <= 64 else f"{text[:64]}…"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{field} is not an ISO 8601 time: {shown!r}", field=field) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{field} has no time zone; give UTC with a Z: {shown!r}", field=field)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise BadRequest(
            f"{field} is out of range: {shown!r}; give a time from {iso(EARLIEST)} "
            f"to before {iso(LATEST)}",
            field=field,
        )
    return utc


def ordered_nonce() -> str:
    """A nonce for a document the hub writes itself: the time in nanoseconds (fixed-width hex,
    so nonces sort in time order and a batch's are appended to the nonce index together, not
    written to a page of it each; bench/README.md, issue 17) and 96 random bits, which keep it
    unique whatever the clock does.

    Not the same for record ids (a UUIDv7 would have helped their index the same way): people
    and the CLI know records by the first 8 characters of their id, which in a UUIDv7 are the
    time, shared by every record of the same minute."""
    return f"{time.time_ns():016x}{secrets.token_urlsafe(12)}"
