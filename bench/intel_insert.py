"""What one TAXII envelope's index rows cost SQLite, with and without the random-key index on
``intel_objects.submission_id`` (issue 17, session 13).

The table and its indexes are those of migration 0003 (``intel_objects``, foreign key to
``submissions.id``), built here in plain SQL so that variants can leave one thing out. Each
round is what the writer does for an envelope: in one ``BEGIN IMMEDIATE`` transaction, 100
submissions (random UUID ids, 1.2 kB of JWS each), then 100 index rows in one multi-row
``INSERT ... ON CONFLICT DO NOTHING RETURNING``, then ``COMMIT`` with ``synchronous=FULL`` in
WAL mode, as parley runs. Timed: the index insert and the commit, medians over the second half
of ``--rounds`` (the table grows as it would over a 10,000-object add). The variants take turns
round by round on separate files, so the machine's mood is shared.

    .venv/bin/python bench/intel_insert.py --rounds 200
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

# name: (the submission_id column's constraints, whether submission ids are time-ordered)
VARIANTS = {
    "as parley has it (0003)": ("REFERENCES submissions(id) UNIQUE", False),
    "no UNIQUE on submission_id": ("REFERENCES submissions(id)", False),
    "no foreign key": ("UNIQUE", False),
    "time-ordered submission ids": ("REFERENCES submissions(id) UNIQUE", True),
}
PER_ENVELOPE = 100


def _open(path: Path, submission_id: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    db.execute(
        "CREATE TABLE submissions (seq INTEGER PRIMARY KEY, id VARCHAR(40) UNIQUE, jws TEXT)"
    )
    db.execute(
        "CREATE TABLE intel_objects (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " collection_id VARCHAR(36) NOT NULL, stix_id VARCHAR(300) NOT NULL,"
        " stix_type VARCHAR(250) NOT NULL, version VARCHAR(32) NOT NULL,"
        " spec_version VARCHAR(8) NOT NULL, date_added VARCHAR(32) NOT NULL,"
        f" submission_id VARCHAR(40) NOT NULL {submission_id},"
        " CONSTRAINT uq_intel_objects_version UNIQUE (collection_id, stix_id, version))"
    )
    for name, columns in (
        ("seq", "collection_id, seq"),
        ("type_seq", "collection_id, stix_type, seq"),
        ("added", "collection_id, date_added"),
    ):
        db.execute(f"CREATE INDEX ix_{name} ON intel_objects ({columns})")
    return db


def _id(ordered: bool) -> str:
    """A random UUID, or one whose first 48 bits are the time in ms, as UUIDv7 has them."""
    if not ordered:
        return str(uuid.uuid4())
    random = uuid.uuid4().int & ((1 << 80) - 1)
    return str(uuid.UUID(int=(time.time_ns() // 1_000_000) << 80 | random))


def _round(db: sqlite3.Connection, collection: str, n: int, ordered: bool) -> tuple[float, float]:
    ids = [_id(ordered) for _ in range(PER_ENVELOPE)]
    db.execute("BEGIN IMMEDIATE")
    rows = ",".join(["(?, ?)"] * PER_ENVELOPE)
    db.execute(
        f"INSERT INTO submissions (id, jws) VALUES {rows}",
        [v for i in ids for v in (i, "x" * 1200)],
    )
    values: list[str] = []
    for i in ids:
        values += [collection, f"indicator--{uuid.uuid4()}", "indicator"]
        values += ["2026-12-01T05:00:00.000Z", "2.1", f"2026-12-01T05:00:00.{n:06d}Z", i]
    objects = ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * PER_ENVELOPE)
    started = time.perf_counter()
    db.execute(
        "INSERT INTO intel_objects (collection_id, stix_id, stix_type, version, spec_version,"
        f" date_added, submission_id) VALUES {objects} ON CONFLICT (collection_id, stix_id,"
        " version) DO NOTHING RETURNING submission_id, version",
        values,
    ).fetchall()
    inserted = time.perf_counter()
    db.execute("COMMIT")
    return inserted - started, time.perf_counter() - inserted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="envelopes of 100 per variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {
            name: _open(Path(tmp) / f"{i}.db", sql)
            for i, (name, (sql, _)) in enumerate(VARIANTS.items())
        }
        collection = str(uuid.uuid4())
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
        for n in range(args.rounds):
            for name, db in dbs.items():
                times[name].append(_round(db, collection, n, VARIANTS[name][1]))
        base = None
        for name, found in times.items():
            late = found[len(found) // 2 :]
            insert = statistics.median(t[0] for t in late) * 1e3
            commit = statistics.median(t[1] for t in late) * 1e3
            both = insert + commit
            base = base or both
            print(
                f"{name}: index insert {insert:.2f} ms, commit {commit:.2f} ms, "
                f"together {both:.2f} ms an envelope of {PER_ENVELOPE} ({both / base:.2f}x)"
            )
        for db in dbs.values():
            db.close()


if __name__ == "__main__":
    main()
