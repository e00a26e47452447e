"""The clock's own promises: stored times sort as they compare, and the nonces the hub makes
are in time order (so each batch is appended to the nonce index together) yet unique."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from parley import clock


def test_iso_is_fixed_width_utc_with_microseconds() -> None:
    moments = [
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 1, 5, 0, 0, 7, tzinfo=timezone(timedelta(hours=3))),
        datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    shown = [clock.iso(m) for m in moments]
    assert shown == [
        "0999-01-02T03:04:05.000000Z",
        "2026-01-01T02:00:00.000007Z",
        "8999-12-31T23:59:59.999999Z",
    ]
    assert shown == sorted(shown)
    # and read back as the same moment, within the range a client may give
    assert [clock.parse(s) for s in shown[1:]] == moments[1:]


def test_ordered_nonces_sort_in_time_and_stay_unique() -> None:
    made = [clock.ordered_nonce() for _ in range(2000)]
    assert all(16 <= len(n) <= 128 for n in made)  # what admission accepts
    assert len(set(made)) == len(made)
    assert [n[:16] for n in made] == sorted(n[:16] for n in made)
