"""Checking STIX 2.1 objects before they become submissions, and STIX timestamps.

An object is accepted only if stix2-validator, the reference for STIX 2.1 validity, would find no
error in it (its warnings, the spec's SHOULDs, do not refuse an object). Custom properties and
extensions are allowed, as STIX 2.1 allows them.

Each object is checked once, by the same two things stix2-validator's ``validate_instance`` runs
to decide validity, made fast:

* the JSON schemas stix2-validator ships, compiled once by jsonschema-rs (``validate_instance``
  re-reads and re-resolves them for every object: about 2 ms an object) and chosen by type as
  the validator chooses them (observed-data's embedded observables each against their own);
* the validator's list of MUST checks, run by its own code, except that an indicator's STIX
  pattern is parsed once and the one parse tree answers both questions the validator parses it
  twice for (the grammar, then the object types and properties it names).

tests/test_stix_schema_agreement.py holds this to ``validate_instance`` itself (the oracle) on
every STIX 2.1 object type, the spec's examples and known-bad objects.
"""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from parley import clock

if TYPE_CHECKING:
    from parley.intel.checking import Rules

SPEC_VERSION = "2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"

_ID = re.compile(
    r"^([a-z0-9][a-z0-9-]{0,248}[a-z0-9]|[a-z0-9])--"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$")


class Refused(Exception):
    """An object that may not be added, and why (shown to the party that sent it)."""


class BadTimestamp(ValueError):
    pass


def parse_timestamp(text: object) -> datetime:
    """A STIX/TAXII timestamp (RFC 3339, UTC, ``Z``); precision past microseconds is dropped."""
    if not isinstance(text, str):
        raise BadTimestamp("a timestamp must be a string")
    m = _TIMESTAMP.match(text)
    if m is None:
        raise BadTimestamp(f"{text!r} is not a timestamp like 2026-01-31T12:00:00.000Z")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        raise BadTimestamp(f"{text!r} is not a valid date and time") from None


def normal(moment: datetime) -> str:
    """Fixed width with microseconds, so stored timestamps sort as they compare."""
    return clock.iso(moment)


def normal_timestamp(text: object) -> str:
    return normal(parse_timestamp(text))


def shown(normalised: str) -> str:
    """A stored version as STIX usually writes it: milliseconds, unless it has finer digits."""
    if normalised.endswith("000Z"):
        return normalised[:-4] + "Z"
    return normalised


@dataclass(frozen=True)
class Checked:
    """An object that passed every check, with what the index needs to know about it."""

    object: dict[str, Any]
    id: str
    type: str
    # The version is ``modified``, else ``created``; an object with neither (a cyber-observable)
    # is versioned by the time it is added, which only the index knows.
    version: str | None
    spec_version: str


def preload_validator() -> None:
    """Import the checking code in the background (stix2-validator's imports and compiling the
    schemas take a second or more), so a hub opens its port at once and the first TAXII request
    rarely waits for it."""
    threading.Thread(
        target=importlib.import_module,
        args=("parley.intel.checking",),
        name="stix-import",
        daemon=True,
    ).start()


class Validator:
    """Checks objects; safe to share between threads."""

    def __init__(self) -> None:
        # Loaded on first use: importing stix2-validator and compiling its schemas takes a
        # second or more, and every `parley serve` start would pay for it.
        self._rules: Rules | None = None
        self._lock = threading.Lock()

    def check(self, obj: object) -> Checked:
        stix_id, stix_type, spec_version = _identity(obj)
        assert isinstance(obj, dict)
        version = _version(obj)
        errors = self.errors(obj)
        if errors:
            raise Refused("not a valid STIX 2.1 object: " + "; ".join(errors[:5]))
        return Checked(obj, stix_id, stix_type, version, spec_version)

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """Why stix2-validator would refuse this object (empty: it would not)."""
        return self._loaded().errors(obj)

    def reference_errors(self, obj: dict[str, Any]) -> list[str]:
        """The verdict straight from stix2-validator's ``validate_instance`` (slow: the oracle
        the tests hold :meth:`errors` to)."""
        from stix2validator import ValidationOptions, validate_instance

        try:
            result = validate_instance(obj, ValidationOptions(version=SPEC_VERSION))
        except Exception as exc:  # the validator raises plain errors on malformed input
            return [_one_line(exc)]
        return [_one_line(e) for e in result.errors]

    def warm_up(self) -> None:
        """Load the rules in the background, so the port opens at once and the first TAXII
        request does not pay for it (it waits on the lock if it comes early)."""
        threading.Thread(target=self._loaded, name="stix-validator", daemon=True).start()

    def _loaded(self) -> Rules:
        if self._rules is None:
            with self._lock:
                if self._rules is None:
                    from parley.intel.checking import Rules

                    self._rules = Rules.load()
        return self._rules


def _identity(obj: object) -> tuple[str, str, str]:
    if not isinstance(obj, dict):
        raise Refused("each item of objects must be a STIX object (a JSON object)")
    stix_type, stix_id = obj.get("type"), obj.get("id")
    if not isinstance(stix_type, str) or not isinstance(stix_id, str):
        raise Refused("a STIX object needs a type and an id")
    if not _ID.match(stix_id) or not stix_id.startswith(stix_type + "--"):
        raise Refused(f"{stix_id!r} is not an identifier of the form {stix_type}--<UUID>")
    if stix_type == "bundle":
        raise Refused("send the bundle's objects in the envelope, not the bundle")
    spec_version = obj.get("spec_version")
    if spec_version is None and ("created" in obj or "modified" in obj):
        # An SDO, SRO or marking without spec_version is STIX 2.0.
        raise Refused("only STIX 2.1 objects are accepted (this one has no spec_version)")
    if spec_version not in (None, SPEC_VERSION):
        raise Refused(f"only STIX 2.1 objects are accepted, not spec_version {spec_version!r}")
    return stix_id, stix_type, SPEC_VERSION


def _version(obj: dict[str, Any]) -> str | None:
    for field in ("modified", "created"):
        if field in obj:
            try:
                return normal_timestamp(obj[field])
            except BadTimestamp as exc:
                raise Refused(f"{field}: {exc}") from None
    return None


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())
