"""Times are UTC everywhere; stored and shown as ISO 8601 with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

from parley.errors import BadRequest


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed width, so stored strings sort in time order on every backend."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: object, field: str = "time") -> datetime:
    if not isinstance(text, str):
        raise BadRequest(f"{field} must be an ISO 8601 time string", field=field)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{field} is not an ISO 8601 time: {text!r}", field=field) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{field} has no time zone; give UTC with a Z: {text!r}", field=field)
    return moment.astimezone(UTC)
