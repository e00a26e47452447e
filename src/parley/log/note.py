"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and Ed25519 checkpoint
cosignatures (c2sp.org/tlog-cosignature, ``cosignature/v1``).

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <name> base64(key ID || signature)\\n``. The key ID is the first four bytes of
``SHA-256(name || 0x0A || type || public key)``; type 0x01 is a plain Ed25519 signature over the
text, type 0x04 a cosignature: an 8-byte big-endian timestamp then an Ed25519 signature over
``cosignature/v1\\ntime <timestamp>\\n`` followed by the text.

Key strings (signed-note "Verifier keys"; the signer form is golang.org/x/mod/sumdb/note's):

    verifier: <name>+<hex key ID>+base64(type || 32-byte public key)
    signer:   PRIVATE+KEY+<name>+<hex key ID>+base64(type || 32-byte seed)

Every failure is a :class:`NoteError`, a ``CheckpointError``: notes carry checkpoints here.

Long module: one specification (signed-note with its key strings, and cosignature/v1) kept
whole, so it reads top to bottom against c2sp.org.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from parley.errors import CheckpointError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
"""signed-note asks verifiers to cap signatures and accept at least 16; x/mod/sumdb uses 100."""

_SIG_PREFIX = "— "
_KEY_ID = re.compile(r"[0-9a-f]{8}")
# signed-note: no ASCII control characters but newline.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_MAX_TIMESTAMP = 2**63 - 1


class NoteError(CheckpointError):
    title = "Signed note does not verify"
    slug = "bad-signed-note"


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard padded base64 (RFC 4648 §4), refusing anything that would not re-encode to
    the same text, so one value has one spelling."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def check_name(name: str) -> None:
    """signed-note: key names are non-empty, with no Unicode spaces and no plus signs."""
    if not name:
        raise NoteError("key name is empty")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise NoteError(f"key name {name!r} contains a space, plus sign or control character")
    # A key typed on a command line can hold lone surrogates (undecodable argv bytes), which
    # the key ID's hash input cannot encode.
    _check_text(name, "key name")


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """signed-note: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


class NoteSigner(Protocol):
    """What :func:`sign_note` needs: a name, a key ID, and the signature bytes for a text."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, text: bytes) -> bytes: ...


class NoteVerifier(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...


class _Ed25519Key:
    sig_type = ED25519

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        check_name(name)
        self._name = name
        self.public_key = public_key
        self._key_id = key_id(name, self.sig_type, _public_raw(public_key))

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    def key_string(self) -> str:
        """The verifier key, ``name+hexid+base64(type || public key)``."""
        raw = bytes([self.sig_type]) + _public_raw(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key_string()!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Ed25519Key)
            and type(other) is type(self)
            and other.key_string() == self.key_string()
        )

    def __hash__(self) -> int:
        return hash(self.key_string())


def _parse_key(text: str, sig_type: int, prefix: str) -> tuple[str, bytes]:
    """Split ``[prefix]name+hexid+base64(type || key)``, checking the ID; return (name, key)."""
    what = "signer key" if prefix else "verifier key"
    if not text.startswith(prefix):
        raise NoteError(f"{what} does not start with {prefix!r}")
    # The base64 key may itself hold plus signs; the name and ID cannot.
    parts = text[len(prefix) :].split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"{what} is not name+keyid+key")
    name, hex_id, b64 = parts
    check_name(name)
    if not _KEY_ID.fullmatch(hex_id):
        raise NoteError(f"{what} ID {hex_id!r} is not 8 lowercase hex digits")
    raw = b64decode_strict(b64, what)
    if not raw or raw[0] != sig_type:
        got = f"0x{raw[0]:02x}" if raw else "nothing"
        raise NoteError(f"{what} has signature type {got}, expected 0x{sig_type:02x}")
    if len(raw) != 33:
        raise NoteError(f"{what} holds {len(raw) - 1} key bytes; Ed25519 needs 32")
    return name, raw[1:]


class Verifier(_Ed25519Key):
    """Checks plain Ed25519 note signatures (type 0x01)."""

    @classmethod
    def from_key(cls, vkey: str) -> Verifier:
        name, raw = _parse_key(vkey, cls.sig_type, "")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw))
        if verifier.key_string() != vkey:
            raise NoteError(f"verifier key ID does not match the key for {name!r}")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


class Signer(_Ed25519Key):
    """Makes plain Ed25519 note signatures (type 0x01)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        super().__init__(name, private_key.public_key())
        self._private = private_key

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key(cls, skey: str) -> Signer:
        name, seed = _parse_key(skey, cls.sig_type, "PRIVATE+KEY+")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        if signer.signer_key_string() != skey:
            raise NoteError(f"signer key ID does not match the key for {name!r}")
        return signer

    def signer_key_string(self) -> str:
        raw = bytes([self.sig_type]) + _seed(self._private)
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def sign(self, text: bytes) -> bytes:
        return self._private.sign(text)

    def __repr__(self) -> str:
        # Never the seed: reprs end up in logs.
        return f"Signer({self.key_string()!r})"


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """tlog-cosignature "Ed25519 signed message": header, time line, then the checkpoint."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


class CosignatureVerifier(_Ed25519Key):
    """Checks tlog-cosignature ``cosignature/v1`` signatures (type 0x04)."""

    sig_type = COSIGNATURE_V1

    @classmethod
    def from_key(cls, vkey: str) -> CosignatureVerifier:
        name, raw = _parse_key(vkey, cls.sig_type, "")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw))
        if verifier.key_string() != vkey:
            raise NoteError(f"verifier key ID does not match the key for {name!r}")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + 64:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            return False
        try:
            self.public_key.verify(signature[8:], cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True


class CosignatureSigner(_Ed25519Key):
    """Makes ``cosignature/v1`` signatures, timestamped by ``clock`` (POSIX seconds).

    Its signer key string uses the x/mod form with type byte 0x04; that is parley's
    convention, as tlog-cosignature defines no private key encoding.
    """

    sig_type = COSIGNATURE_V1

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        clock: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        super().__init__(name, private_key.public_key())
        self._private = private_key
        self._clock = clock

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key(
        cls, skey: str, clock: Callable[[], int] = lambda: int(time.time())
    ) -> CosignatureSigner:
        name, seed = _parse_key(skey, cls.sig_type, "PRIVATE+KEY+")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed), clock)
        if signer.signer_key_string() != skey:
            raise NoteError(f"signer key ID does not match the key for {name!r}")
        return signer

    def signer_key_string(self) -> str:
        raw = bytes([self.sig_type]) + _seed(self._private)
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def sign(self, text: bytes) -> bytes:
        timestamp = self._clock()
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp {timestamp} is out of range")
        signature = self._private.sign(cosigned_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + signature

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.key_string()!r})"


def parse_verifier_key(vkey: str) -> Verifier | CosignatureVerifier:
    """A verifier for either signature type this module knows, chosen by the key's type byte."""
    b64 = vkey.split("+", 2)[-1]
    try:
        sig_type = base64.b64decode(b64[:4], validate=True)[:1]
    except ValueError:  # binascii.Error, or a non-ASCII key: from_key below explains
        sig_type = b""
    if sig_type == bytes([COSIGNATURE_V1]):
        return CosignatureVerifier.from_key(vkey)
    return Verifier.from_key(vkey)


@dataclass(frozen=True)
class SignatureLine:
    """One parsed, not yet verified, signature line."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return (
            f"{_SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"
        )


@dataclass(frozen=True)
class VerifiedSignature:
    name: str
    key_id: bytes
    timestamp: int | None
    """POSIX seconds for a cosignature; None for a plain signature."""


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    match = _CONTROL.search(text)
    if match:
        raise NoteError(f"{what} contains control character U+{ord(match.group()):04X}")


def parse_note(note: str | bytes) -> tuple[str, list[SignatureLine]]:
    """Split a note into its text and signature lines, checking the form but no signature."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    _check_text(note, "note")
    # The text may hold blank lines itself; the signatures follow the last one.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("note's last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures; at most {MAX_SIGNATURES} are read")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"signature line {number} does not start with an em dash and space")
        name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError(f"signature line {number} has no space between name and signature")
        check_name(name)
        raw = b64decode_strict(b64, f"signature line {number}")
        if len(raw) < 5:
            raise NoteError(f"signature line {number} is too short to hold a key ID and signature")
        signatures.append(SignatureLine(name, raw[:4], raw[4:]))
    return text, signatures


def open_note_detailed(
    note: str | bytes, verifiers: Iterable[NoteVerifier]
) -> tuple[str, list[VerifiedSignature]]:
    """Verify a note against known keys (signed-note "Signatures").

    Signatures from unknown keys (name and ID not both matching a verifier) are ignored. A
    known key's signature that fails rejects the whole note, as does a note where no known
    key's signature verifies. Returns the text and each known key that signed, once, in
    order.
    """
    text, lines = parse_note(note)
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        if (v.name, v.key_id) in known:
            raise NoteError(f"two verifiers share the name {v.name!r} and key ID {v.key_id.hex()}")
        known[(v.name, v.key_id)] = v
    body = text.encode("utf-8")
    verified: list[VerifiedSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for line in lines:
        who = (line.name, line.key_id)
        verifier = known.get(who)
        if verifier is None or who in seen:
            continue
        if not verifier.verify(body, line.signature):
            raise NoteError(
                f"signature by {line.name} (key ID {line.key_id.hex()}) does not verify"
            )
        seen.add(who)
        timestamp = (
            int.from_bytes(line.signature[:8], "big")
            if isinstance(verifier, CosignatureVerifier)
            else None
        )
        verified.append(VerifiedSignature(line.name, line.key_id, timestamp))
    if not verified:
        names = ", ".join(sorted({v.name for v in known.values()})) or "none given"
        raise NoteError(f"note carries no signature by a known key (known: {names})")
    return text, verified


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> tuple[str, list[str]]:
    """Verify a note; return its text and the names of the known keys that signed it."""
    text, verified = open_note_detailed(note, verifiers)
    return text, [v.name for v in verified]


def _signature_lines(text: bytes, signers: Sequence[NoteSigner]) -> str:
    return "".join(SignatureLine(s.name, s.key_id, s.sign(text)).line() for s in signers)


def sign_note(text: str, signer: NoteSigner, *more: NoteSigner) -> str:
    """A signed note: text (which must end in a newline), a blank line, one line a signer."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_text(text, "note text")
    return text + "\n" + _signature_lines(text.encode("utf-8"), [signer, *more])


def add_signatures(note: str, signer: NoteSigner, *more: NoteSigner) -> str:
    """Append signature lines to an already signed note, e.g. a mirror's cosignature.

    Checks the note's form only; verify it first with :func:`open_note`.
    """
    text, lines = parse_note(note)
    if len(lines) + 1 + len(more) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return note + _signature_lines(text.encode("utf-8"), [signer, *more])
