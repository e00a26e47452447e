"""TAXII 2.1 query parameters: ``added_after``, ``limit``, ``next`` and the ``match[...]`` filters.

Values of one filter are alternatives (``match[type]=indicator,malware``); different filters must
all hold. ``match[version]`` defaults to ``last`` and also takes ``first``, ``all`` and
timestamps; ``match[spec_version]`` defaults to the newest STIX version of each object, which is
every object here (only 2.1 is accepted). Unknown parameters are ignored, as the spec allows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from parley.errors import BadRequest
from parley.intel.stix import BadTimestamp, normal_timestamp

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
KEYWORDS = ("first", "last", "all")


@dataclass(frozen=True)
class Filter:
    added_after: str | None = None
    ids: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    # "first", "last", "all" and normalised timestamps; empty means no version filter at all
    # (the versions endpoint, which lists every version).
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] | None = None

    def fingerprint(self) -> str:
        """What a ``next`` value is bound to: the same filters must come with it."""
        text = json.dumps(
            [self.added_after, self.ids, self.types, self.versions, self.spec_versions]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse(
    params: Mapping[str, str],
    *,
    ids: bool = True,
    types: bool = True,
    versions: bool = True,
) -> Filter:
    """The filter a request asks for; ``ids``/``types``/``versions``: whether the endpoint
    takes that parameter (one that it does not take is ignored)."""
    added_after = None
    if "added_after" in params:
        added_after = _timestamp(params["added_after"], "added_after")
    return Filter(
        added_after=added_after,
        ids=_list(params, "match[id]") if ids else None,
        types=_list(params, "match[type]") if types else None,
        versions=_versions(params) if versions else (),
        spec_versions=_list(params, "match[spec_version]"),
    )


def limit(params: Mapping[str, str]) -> int:
    """The page size: the client's ``limit``, at most :data:`MAX_LIMIT`."""
    text = params.get("limit")
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"limit must be a positive integer, not {text!r}") from None
    if value < 1:
        raise BadRequest(f"limit must be a positive integer, not {text!r}")
    return min(value, MAX_LIMIT)


def _list(params: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    text = params.get(name)
    if text is None:
        return None
    values = tuple(sorted({v.strip() for v in text.split(",") if v.strip()}))
    if not values:
        raise BadRequest(f"{name} needs at least one value")
    return values


def _versions(params: Mapping[str, str]) -> tuple[str, ...]:
    values = _list(params, "match[version]") or ("last",)
    if "all" in values:
        return ("all",)
    return tuple(sorted(v if v in KEYWORDS else _timestamp(v, "match[version]") for v in values))


def _timestamp(text: str, name: str) -> str:
    try:
        return normal_timestamp(text)
    except BadTimestamp as exc:
        raise BadRequest(f"{name}: {exc}") from None
