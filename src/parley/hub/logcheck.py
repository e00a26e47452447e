"""The hub's start-up check of its stored log: every entry re-derived from its stored record, the
tree against the checkpoint it last signed, and the storage settings that keep both durable. A
hub whose stored log fails the check refuses to serve it."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from parley.errors import LogError, ParleyError
from parley.hub.admission import ENTRY_VERSION, log_entry
from parley.log import checkpoint as cp
from parley.log import merkle
from parley.log.keychain import KeyRing
from parley.store.db import LogRecord, Store

_str = json.encoder.encode_basestring  # a JSON string, escaped as RFC 8785 escapes it


class StoredLogError(LogError):
    """The stored log contradicts itself or what the hub signed: the hub must not serve it."""

    title = "Stored log does not verify"
    slug = "stored-log-altered"


def _short(record_id: str | None) -> str:
    return f"submission {record_id}" if record_id else "no submission"


def _quick_entry(record: LogRecord) -> bytes | None:
    """The entry ``parley.hub.admission.log_entry`` derives, written out directly.

    For these documents (fixed ASCII keys in sorted order, strings, the integer version) this
    is their RFC 8785 form at a fraction of the pure-Python canonicaliser's cost, which
    dominated the start-up check. It only ever confirms a match: anything else (a changed
    entry format included) is decided by ``log_entry`` itself.
    """
    assert record.id and record.kind and record.party_id and record.received_at
    assert record.jws is not None
    try:
        data = record.jws.encode("ascii")
        if record.salt is None:
            text = (
                f'{{"id":{_str(record.id)},"jws_sha256":"{hashlib.sha256(data).hexdigest()}",'
                f'"kind":{_str(record.kind)},"party":{_str(record.party_id)},'
                f'"received_at":{_str(record.received_at)},"v":{ENTRY_VERSION}}}'
            )
        else:
            digest = hashlib.sha256(bytes.fromhex(record.salt) + data).hexdigest()
            text = (
                f'{{"commitment":"{digest}","received_at":{_str(record.received_at)},'
                f'"v":{ENTRY_VERSION}}}'
            )
        return text.encode("utf-8")
    except (ValueError, UnicodeError):
        return None


def _entry_difference(record: LogRecord) -> str | None:
    """None if the stored entry is exactly the one derived from its submission row, else
    what differs."""
    if record.id is None:
        return "no submission record claims it"
    assert record.kind and record.party_id and record.received_at and record.jws is not None
    if _quick_entry(record) == record.entry:
        return None
    try:
        derived = log_entry(
            record.id, record.kind, record.party_id, record.received_at, record.jws, record.salt
        )
    except (ValueError, UnicodeEncodeError, ParleyError):
        return "its submission record cannot be re-derived (salt or signed bytes damaged)"
    if derived == record.entry:
        return None
    try:
        stored = json.loads(record.entry)
    except ValueError:
        return "the stored entry is not a parley entry"
    want = json.loads(derived)
    if not isinstance(stored, dict):
        return "the stored entry is not a parley entry"
    fields = sorted(k for k in set(want) | set(stored) if want.get(k) != stored.get(k))
    if not fields:
        return "the stored entry's bytes are not canonical"
    return f"{', '.join(fields)} differ{'s' if len(fields) == 1 else ''}"


def check_checkpoint(
    tree: merkle.MerkleTree, latest: tuple[int, str], verifier: KeyRing, origin: str
) -> cp.Checkpoint:
    size, signed = latest
    try:
        checkpoint = verifier.verify(signed)
    except LogError as exc:
        raise StoredLogError(
            f"the latest stored checkpoint (size {size}) does not verify with this hub's key: "
            f"{exc.detail}"
        ) from None
    if checkpoint.size != size:
        raise StoredLogError(
            f"the checkpoint stored as size {size} is signed for size {checkpoint.size}"
        )
    if tree.size < size:
        raise StoredLogError(f"the log has {tree.size} entries but checkpoint {size} was signed")
    if tree.root(size) != checkpoint.root:
        raise StoredLogError(
            f"the rebuilt tree's root at size {size} differs from the signed checkpoint"
        )
    return checkpoint


REFUSAL = (
    "refusing to serve this log, so as not to sign a fork of what was signed before. "
    "Restore the database from a backup (or find what altered it); docs/log.md, "
    '"The start-up check"'
)


def check_stored_log(
    store: Store, verifier: KeyRing, origin: str, checkpoint_file: Path | None = None
) -> tuple[merkle.MerkleTree, tuple[int, str] | None]:
    """Rebuild the tree from the stored entries, checking each against its submission row and
    the whole against the latest signed checkpoint (and the one in ``checkpoint_file``, if it
    exists); raise StoredLogError at the first fault.

    One streaming pass over the rows, hashing only: no signature is verified per entry.
    """
    try:
        tree, latest = _check_stored_log(store, verifier, origin)
        if checkpoint_file is not None:
            _check_checkpoint_file(tree, checkpoint_file, verifier, origin)
        return tree, latest
    except StoredLogError as exc:
        raise StoredLogError(f"{exc.detail}: {REFUSAL}") from None


def _check_stored_log(
    store: Store, verifier: KeyRing, origin: str
) -> tuple[merkle.MerkleTree, tuple[int, str] | None]:
    size = store.log_size()
    tree = merkle.MerkleTree()
    records = store.log_records()
    with contextlib.closing(records):
        for record in records:
            expected = tree.size
            if record.index != expected:
                raise StoredLogError(
                    f"entry {expected} is missing (the next stored entry is {record.index})"
                )
            difference = _entry_difference(record)
            if difference is not None:
                raise StoredLogError(
                    f"entry {record.index} ({_short(record.id)}) does not match its stored "
                    f"record: {difference}"
                )
            tree.append(merkle.leaf_hash(record.entry))
    if tree.size != size:
        raise StoredLogError(
            f"the log has {tree.size} entries but its recorded size (log_state) is {size}"
        )
    count, span = store.submission_span()
    if count != size or span > size:
        raise StoredLogError(
            f"{count} submissions are stored, claiming log indices up to {span - 1}, "
            f"but the log has {size} entries"
        )
    latest = store.latest_checkpoint()
    if latest is not None:
        check_checkpoint(tree, latest, verifier, origin)
    return tree, latest


def _check_checkpoint_file(
    tree: merkle.MerkleTree, path: Path, verifier: KeyRing, origin: str
) -> None:
    try:
        signed = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise StoredLogError(f"cannot read {path}: {exc}") from None
    try:
        checkpoint = verifier.verify(signed)
    except LogError as exc:
        raise StoredLogError(f"{path} holds no checkpoint this hub signed: {exc.detail}") from None
    if tree.size < checkpoint.size:
        raise StoredLogError(
            f"the log has {tree.size} entries but checkpoint {checkpoint.size} was signed "
            f"(the last one this hub recorded in {path})"
        )
    if tree.root(checkpoint.size) != checkpoint.root:
        raise StoredLogError(
            f"the rebuilt tree's root at size {checkpoint.size} differs from the signed "
            f"checkpoint recorded in {path}"
        )


def durability_warnings(store: Store) -> list[str]:
    """What in the database's settings would let a crash take back a receipted entry."""
    settings = store.durability()
    warnings = []
    if settings.get("fsync") == "off":
        warnings.append(
            "PostgreSQL runs with fsync=off: an OS crash or power cut can lose entries that "
            "receipts already cover, and the hub would then re-use their indices (a fork). "
            "Use fsync=on outside tests (docs/log.md, Durability)"
        )
    if settings.get("synchronous_commit") == "off":
        warnings.append(
            "PostgreSQL runs with synchronous_commit=off: a submission's answer may precede "
            "its durability (checkpoints, and so receipts, still wait for it)"
        )
    if store.sqlite and settings.get("synchronous") not in ("full", "extra"):
        warnings.append(f"SQLite runs with synchronous={settings.get('synchronous')}")
    return warnings
