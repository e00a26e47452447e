"""Checking STIX 2.1 objects before they become submissions, and STIX timestamps.

An object is accepted only if the ``stix2`` library parses it and ``stix2-validator`` finds no
error (its warnings, the spec's SHOULDs, do not refuse an object). Custom properties and
extensions are allowed, as STIX 2.1 allows them.

stix2-validator's ``validate_instance`` re-reads its JSON schemas and re-resolves every ``$ref``
for every object, which costs about 2 ms an object and would dominate adding objects. So
:class:`Validator` loads the same bundled schemas once into one cross-referenced registry and
runs the same two things ``validate_instance`` runs to decide validity: the type's schema and the
library's list of MUST checks. Objects whose checking differs in shape (observed-data, with its
embedded observables) go through ``validate_instance`` itself, as does everything when the
library's internals are not the ones this was written against. tests/test_taxii_stix.py holds
the two paths to the same verdicts.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import stix2
import stix2.exceptions

if TYPE_CHECKING:
    from stix2validator import ValidationOptions

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
    moment = moment.astimezone(UTC)
    # glibc's %Y writes year 999 as "999", which sorts after "2026": pad it ourselves.
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


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
    """Import stix2-validator in the background (jsonschema builds a grammar on import: seconds),
    so a hub opens its port at once and the first TAXII request rarely waits for it."""
    threading.Thread(
        target=importlib.import_module, args=("stix2validator",), name="stix-import", daemon=True
    ).start()


class Validator:
    """Checks objects; safe to share between threads."""

    def __init__(self) -> None:
        # stix2-validator is imported on first use: loading it (jsonschema builds a grammar)
        # takes seconds, and every `parley serve` start would pay for it.
        self._options_made: ValidationOptions | None = None
        self._fast: _FastValidator | None = None
        self._lock = threading.Lock()
        self._loaded = False

    @property
    def _options(self) -> ValidationOptions:
        if self._options_made is None:
            from stix2validator import ValidationOptions

            self._options_made = ValidationOptions(version=SPEC_VERSION)
        return self._options_made

    def check(self, obj: object) -> Checked:
        stix_id, stix_type, spec_version = _identity(obj)
        assert isinstance(obj, dict)
        version = _version(obj)
        try:
            stix2.parse(obj, allow_custom=True)
        except (stix2.exceptions.STIXError, ValueError, TypeError) as exc:
            raise Refused(f"not a valid STIX 2.1 object: {_one_line(exc)}") from None
        errors = self.errors(obj)
        if errors:
            raise Refused("not a valid STIX 2.1 object: " + "; ".join(errors[:5]))
        return Checked(obj, stix_id, stix_type, version, spec_version)

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """stix2-validator's errors for one object (empty: valid)."""
        fast = self._fast_validator()
        if fast is not None and fast.handles(obj):
            return fast.errors(obj)
        return self.reference_errors(obj)

    def reference_errors(self, obj: dict[str, Any]) -> list[str]:
        """The same verdict straight from ``validate_instance`` (slow; the reference)."""
        from stix2validator import validate_instance

        try:
            result = validate_instance(obj, self._options)
        except Exception as exc:  # the validator raises plain errors on malformed input
            return [_one_line(exc)]
        return [_one_line(e) for e in result.errors]

    def warm_up(self) -> None:
        """Load the validator in the background, so the port opens at once and the first
        TAXII request does not pay for the import (it waits on the lock if it comes early)."""
        threading.Thread(target=self._fast_validator, name="stix-validator", daemon=True).start()

    def _fast_validator(self) -> _FastValidator | None:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._fast = _FastValidator.load(self._options)
                    self._loaded = True
        return self._fast


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


# -- stix2-validator, with its schemas loaded once ----------------------------------------------

ErrorSource = Callable[[dict[str, Any]], Iterable[Any]]


class _FastValidator:
    """The schema and MUST checks of ``validate_instance``, without reloading schemas per call."""

    def __init__(
        self,
        schemas: dict[str, Any],
        musts: ErrorSource,
        describe: Callable[[Any], str],
    ) -> None:
        self._schemas = schemas
        self._musts = musts
        self._describe = describe

    @classmethod
    def load(cls, options: ValidationOptions) -> _FastValidator | None:
        try:
            from jsonschema import Draft202012Validator
            from referencing import Registry
            from referencing.jsonschema import DRAFT202012
            from stix2validator import validator as sv
            from stix2validator.errors import pretty_error
            from stix2validator.v21 import musts as musts21

            base = Path(sv.__file__).parent / f"schemas-{SPEC_VERSION}" / "schemas"
            loaded: dict[str, tuple[str, dict[str, Any]]] = {}
            for path in sorted(base.rglob("*.json")):
                if "examples" in path.parts:
                    continue
                # The same patch the library applies: $id becomes the file's own URI, so the
                # relative $refs resolve against the files on disk.
                schema = sv.patch_schema(json.loads(path.read_text()), str(path))
                loaded.setdefault(path.stem, (path.as_uri(), schema))
            registry = (
                Registry()
                .with_resources(
                    (uri, DRAFT202012.create_resource(schema)) for uri, schema in loaded.values()
                )
                .crawl()
            )
            schemas = {
                name: sv.STIXValidator(
                    schema,
                    registry=registry,
                    format_checker=Draft202012Validator.FORMAT_CHECKER,
                )
                for name, (_, schema) in loaded.items()
            }
            options.set_check_codes(SPEC_VERSION)
            checks = musts21.list_musts(options)

            def musts(obj: dict[str, Any]) -> Iterable[Any]:
                return sv._iter_errors_custom(obj, checks, options)  # type: ignore[no-any-return]

            def describe(error: Any) -> str:
                return str(pretty_error(error, False))

        except Exception:  # another version of the library: use validate_instance only
            return None
        if not {"core", "cyber-observable-core", "indicator"} <= schemas.keys():
            return None
        return cls(schemas, musts, describe)

    def handles(self, obj: dict[str, Any]) -> bool:
        # observed-data embeds observables that validate_instance checks one by one.
        return obj.get("type") != "observed-data"

    def errors(self, obj: dict[str, Any]) -> list[str]:
        stix_type = str(obj["type"])
        schema = self._schemas.get(stix_type)
        if schema is None:
            observable = not any(p in obj for p in ("created", "modified"))
            core = (
                "cyber-observable-core"
                if observable and stix_type != "marking-definition"
                else "core"
            )
            schema = self._schemas[core]
        try:
            # As validate_instance words them: schema errors prefixed by the id, MUST
            # errors carrying it already.
            found = [f"{obj['id']}: {self._describe(e)}" for e in schema.iter_errors(obj)]
            found += [self._describe(e) for e in self._musts(obj)]
            return [_one_line(e) for e in found]
        except Exception as exc:
            return [_one_line(exc)]
