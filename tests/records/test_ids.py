"""Record ids are version 7 UUIDs (RFC 9562): the time in milliseconds first, so that ids made
later sort later as text (every index on them takes them in order), and 74 random bits."""

from __future__ import annotations

import itertools
import time
import uuid

from parley.records.ids import record_id


def test_an_id_is_a_version_7_uuid_carrying_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(record_id())
    after = time.time_ns() // 1_000_000
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after
    assert str(made) == str(made).lower()  # the text form the store keeps and indexes


def test_ids_made_later_sort_later_as_text_and_never_repeat() -> None:
    batches = []
    for _ in range(3):
        batches.append([record_id() for _ in range(2000)])
        time.sleep(0.002)
    for earlier, later in itertools.pairwise(batches):
        assert max(earlier) < min(later)
    everything = [i for batch in batches for i in batch]
    assert len(set(everything)) == len(everything)
    # The random bits are random: within one millisecond, ids differ in them.
    tails = {uuid.UUID(i).int & ((1 << 62) - 1) for i in everything}
    assert len(tails) == len(everything)
