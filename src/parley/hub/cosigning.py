"""The hub's side of witnessing: each new checkpoint goes to every configured witness in
parallel, and the cosignatures that come back are added to the note the hub serves and hands out
in receipts.

A witness answers 409 with the size it last cosigned when the hub's idea of it is wrong (a
restart, another process): the hub adopts it and proves consistency from there. A witness that
has cosigned a size larger than the log holds has seen a history this hub no longer has (a
restored backup, a rolled-back database): that is raised to the operator as an alarm, and the
witness will not cosign again until the log has grown past it along the same history.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx

from parley.errors import BadRequest
from parley.log import note
from parley.witness.client import WitnessError, add_checkpoint

log = logging.getLogger("parley.witnesses")

Consistency = Callable[[int, int], list[bytes]]


@dataclass(frozen=True)
class Witness:
    url: str
    verifier: note.CosignatureVerifier

    @classmethod
    def parse(cls, text: str) -> Witness:
        """``"<url> <verifier key>"``, as written in parley.toml's ``witnesses``."""
        parts = text.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise BadRequest(
                f'witness {text!r}: write it as "<url> <verifier key>", e.g. '
                '"https://witness.example/ name+1234abcd+BASE64"'
            )
        try:
            verifier = note.CosignatureVerifier.from_key(parts[1])
        except note.NoteError as exc:
            raise BadRequest(
                f"witness {parts[0]}: {parts[1]!r} is not a cosignature verifier key ({exc.detail})"
            ) from None
        return cls(parts[0], verifier)


class Cosigners:
    def __init__(self, witnesses: Sequence[Witness], timeout_s: float) -> None:
        self.witnesses = list(witnesses)
        self.timeout_s = timeout_s
        self._sizes: dict[str, int] = {}  # what each witness last cosigned, as far as known
        self.alarms: list[str] = []
        self._lock = threading.Lock()
        self._pool = (
            ThreadPoolExecutor(len(self.witnesses), thread_name_prefix="parley-witness")
            if self.witnesses
            else None
        )
        self._http = httpx.Client(timeout=timeout_s) if self.witnesses else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._http is not None:
            self._http.close()

    def cosign(self, size: int, signed: str, consistency: Consistency, again: bool = False) -> str:
        """``signed`` with every cosignature the witnesses give within the timeout.

        ``again``: ask even a witness that cosigned this size already (a key rotation's
        checkpoint, which it must see to learn the new key)."""
        if self._pool is None or size == 0:
            return signed
        futures = [
            self._pool.submit(self._ask, w, size, signed, consistency, again)
            for w in self.witnesses
        ]
        done, _ = wait(futures, timeout=self.timeout_s * 2)
        lines = "".join(f.result() for f in done if f.exception() is None)
        return signed + lines

    def _ask(
        self, witness: Witness, size: int, signed: str, consistency: Consistency, again: bool
    ) -> str:
        assert self._http is not None
        for _ in range(2):  # a 409 tells the witness's size; one retry from there
            old = self._sizes.get(witness.url, 0)
            if old > size:
                self._alarm(witness, old, size)
                return ""
            proof = consistency(old, size) if 0 < old < size else []
            try:
                lines = add_checkpoint(
                    witness.url,
                    old,
                    proof,
                    signed,
                    self.timeout_s,
                    witness=witness.verifier,
                    client=self._http,
                )
            except WitnessError as exc:
                if exc.witness_status == 409 and exc.size is not None:
                    self._sizes[witness.url] = exc.size
                    if exc.size == size and not again:
                        return ""  # another process of this hub had it cosigned already
                    continue
                log.warning("witness %s did not cosign size %d: %s", witness.url, size, exc)
                return ""
            self._sizes[witness.url] = size
            return lines
        return ""

    def _alarm(self, witness: Witness, theirs: int, ours: int) -> None:
        message = (
            f"witness {witness.verifier.name} ({witness.url}) has cosigned size {theirs}, but "
            f"this log has only {ours} entries: the log was rolled back (a restored backup?). "
            "It will not cosign until the log has grown past that size along the same history."
        )
        with self._lock:
            if message not in self.alarms:
                self.alarms.append(message)
        log.critical("%s", message)
