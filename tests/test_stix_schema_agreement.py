"""parley's STIX checking agrees with stix2-validator, the oracle, object by object.

parley checks each object once: stix2-validator's own JSON schemas compiled by jsonschema-rs,
the validator's MUST checks, and the indicator's pattern parsed once (parley.intel.stix). The
oracle is stix2-validator's ``validate_instance`` as it ships. The corpus holds every STIX 2.1
object type (made with the stix2 library), the spec examples stix2-validator ships, and objects
broken in the ways clients break them; every object must get the same verdict both ways, and a
refused object must be refused for a reason the oracle also names where the reason is a MUST
check (those run the validator's own code, so their wording is identical).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stix2
import stix2validator
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.intel.stix import Validator

NOW = "2026-01-01T00:00:00.000Z"
LATER = "2026-01-02T00:00:00.000Z"
IDENTITY = "identity--311b2d2d-f010-4473-83ec-1edf84858f4c"
MARKING = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"  # TLP:GREEN
SHA256 = "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"


def _sdo(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": NOW,
        "modified": NOW,
        "created_by_ref": IDENTITY,
        **fields,
    }


def _made(obj: Any) -> dict[str, Any]:
    """An object as the stix2 library serialises it (so as a STIX producer would send it)."""
    return dict(json.loads(obj.serialize()))


def every_type() -> list[dict[str, Any]]:
    """One valid object of each STIX 2.1 SDO, SRO, SCO and meta type, made with stix2."""
    v = stix2.v21
    ipv4 = v.IPv4Address(value="198.51.100.3")
    file_ = v.File(name="dropper.exe", hashes={"SHA-256": SHA256})
    email = v.EmailAddress(value="a@example.org")
    made = [
        v.AttackPattern(name="spear phishing", created_by_ref=IDENTITY),
        v.Campaign(name="winter", first_seen=NOW, last_seen=LATER),
        v.CourseOfAction(name="block"),
        v.Grouping(context="suspicious-activity", object_refs=[ipv4.id]),
        v.Identity(name="alpha cell", identity_class="organization", id=IDENTITY),
        v.Incident(name="shelling"),
        v.Indicator(
            pattern="[file:hashes.'SHA-256' = '" + SHA256 + "'] AND [ipv4-addr:value = '1.2.3.4']",
            pattern_type="stix",
            valid_from=NOW,
            indicator_types=["malicious-activity"],
            object_marking_refs=[MARKING],
        ),
        v.Indicator(pattern="rule x { condition: true }", pattern_type="yara", valid_from=NOW),
        v.Infrastructure(name="c2", infrastructure_types=["command-and-control"]),
        v.IntrusionSet(name="apt", first_seen=NOW),
        v.Location(latitude=36.2, longitude=37.1, precision=100.0),
        v.Location(region="western-asia"),
        v.Location(country="SY", administrative_area="Idlib"),
        v.Malware(name="beacon", is_family=False, malware_types=["remote-access-trojan"]),
        v.MalwareAnalysis(product="sandbox", result="malicious"),
        v.Note(content="seen near the crossing", object_refs=[ipv4.id]),
        v.ObservedData(
            first_observed=NOW, last_observed=LATER, number_observed=2, object_refs=[ipv4.id]
        ),
        v.Opinion(opinion="agree", object_refs=[ipv4.id]),
        v.Report(name="r", published=NOW, object_refs=[ipv4.id], report_types=["threat-report"]),
        v.ThreatActor(name="group", threat_actor_types=["activist"]),
        v.Tool(name="nmap", tool_types=["network-capture"]),
        v.Vulnerability(
            name="CVE-2016-1234",
            external_references=[{"source_name": "cve", "external_id": "CVE-2016-1234"}],
        ),
        v.Relationship(
            relationship_type="indicates",
            source_ref=f"indicator--{uuid.uuid4()}",
            target_ref=f"malware--{uuid.uuid4()}",
            start_time=NOW,
            stop_time=LATER,
        ),
        v.Sighting(sighting_of_ref=f"indicator--{uuid.uuid4()}", count=2, first_seen=NOW),
        v.Artifact(mime_type="application/zip", payload_bin="VBORw0KGgoAAAANSUhEUgAAADI=="),
        v.Artifact(url="https://example.org/a.zip", hashes={"SHA-256": SHA256}),
        v.AutonomousSystem(number=15139, name="Slime Industries"),
        v.Directory(path="C:\\Windows\\System32"),
        v.DomainName(value="example.org"),
        email,
        v.EmailMessage(is_multipart=False, from_ref=email.id, subject="hello", date=NOW, body="hi"),
        file_,
        ipv4,
        v.IPv6Address(value="2001:db8::1"),
        v.MACAddress(value="d2:fb:49:24:37:18"),
        v.Mutex(name="__CLEANSWEEP__"),
        v.NetworkTraffic(
            src_ref=ipv4.id, protocols=["tcp"], src_port=443, start=NOW, end=LATER, is_active=False
        ),
        v.Process(pid=1221, command_line="./gedit-bin --new-window", created_time=NOW),
        v.Software(name="Word", cpe="cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", vendor="MS"),
        v.URL(value="https://example.org/research/"),
        v.UserAccount(user_id="1001", account_login="jdoe", account_type="unix"),
        v.WindowsRegistryKey(key="hkey_local_machine\\system\\bar\\foo"),
        v.X509Certificate(issuer="C=ZA, O=Thawte", serial_number="02:08:87:83"),
        v.MarkingDefinition(
            definition_type="statement", definition={"statement": "Copyright 2026, parley"}
        ),
        v.LanguageContent(
            object_ref=f"campaign--{uuid.uuid4()}",
            object_modified=NOW,
            contents={"de": {"name": "Bank Angriff"}, "fr": {"name": "Attaque"}},
        ),
        v.ExtensionDefinition(
            created_by_ref=IDENTITY,
            name="x",
            schema="https://example.org/schema.json",
            version="1.0",
            extension_types=["property-extension"],
        ),
    ]
    objects = [_made(o) for o in made]
    # Shapes the library's constructors do not make.
    objects += [
        _sdo("x-parley-custom", name="custom objects are allowed"),
        _sdo("threat-actor", name="g", x_parley_note="custom properties are allowed"),
        {"type": "x-parley-sco", "spec_version": "2.1", "id": f"x-parley-sco--{uuid.uuid4()}"},
        _sdo(
            "indicator",
            pattern="[x-parley-thing:some_field = 'a'] WITHIN 60 SECONDS",
            pattern_type="stix",
            valid_from=NOW,
        ),
    ]
    return objects


def spec_examples() -> list[dict[str, Any]]:
    """The objects of the example bundles stix2-validator ships (from the STIX 2.1 spec's
    examples and the OASIS threat reports)."""
    base = Path(stix2validator.__file__).parent / "schemas-2.1" / "examples"
    found: list[dict[str, Any]] = []
    for path in sorted(base.rglob("*.json")):
        bundle = json.loads(path.read_text())
        found += bundle.get("objects", [bundle])
    return found


Mutation = Callable[[dict[str, Any]], None]


def _set(**fields: Any) -> Mutation:
    return lambda o: o.update(fields)


def _drop(name: str) -> Mutation:
    return lambda o: o.pop(name, None)


def broken() -> list[tuple[str, dict[str, Any]]]:
    """Known-bad objects: each valid in every way but the one its name says."""
    by_type = {o["type"]: o for o in every_type() if o["type"] != "location"}
    cases: list[tuple[str, str, Mutation]] = [
        ("no created", "indicator", _drop("created")),
        ("no modified", "threat-actor", _drop("modified")),
        ("no name", "threat-actor", _drop("name")),
        ("no pattern", "indicator", _drop("pattern")),
        ("no pattern_type", "indicator", _drop("pattern_type")),
        ("no valid_from", "indicator", _drop("valid_from")),
        ("modified before created", "indicator", _set(modified="2025-01-01T00:00:00.000Z")),
        ("valid_until before valid_from", "indicator", _set(valid_until="2025-01-01T00:00:00Z")),
        ("last_seen before first_seen", "campaign", _set(last_seen="2025-01-01T00:00:00Z")),
        ("words for a timestamp", "indicator", _set(created="yesterday")),
        ("timestamp with offset", "indicator", _set(created="2026-01-01T00:00:00+01:00")),
        ("thirtieth of February", "indicator", _set(modified="2026-02-30T00:00:00Z")),
        ("month 13", "malware", _set(modified="2026-13-01T00:00:00Z")),
        ("timestamp as a number", "tool", _set(created=1700000000)),
        ("unclosed pattern", "indicator", _set(pattern="[ipv4-addr:value = ")),
        ("pattern without brackets", "indicator", _set(pattern="ipv4-addr:value = '1.2.3.4'")),
        ("pattern type name", "indicator", _set(pattern="[Bad_Type:value = 'x']")),
        ("pattern property name", "indicator", _set(pattern="[ipv4-addr:Value = '1.2.3.4']")),
        (
            "pattern qualifier twice",
            "indicator",
            _set(pattern="[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS WITHIN 6 SECONDS"),
        ),
        ("pattern not a string", "indicator", _set(pattern=["[ipv4-addr:value = '1.2.3.4']"])),
        ("pattern_type not a string", "indicator", _set(pattern_type=5)),
        ("list as a string", "indicator", _set(indicator_types="malicious-activity")),
        ("empty list", "report", _set(object_refs=[])),
        (
            "external reference without source",
            "indicator",
            _set(external_references=[{"url": "https://e.org"}]),
        ),
        ("marking reference not an id", "indicator", _set(object_marking_refs=["not-a-reference"])),
        (
            "created_by_ref to a non-identity",
            "indicator",
            _set(created_by_ref=f"malware--{uuid.uuid4()}"),
        ),
        ("lang not a string", "indicator", _set(lang=7)),
        ("lang not a language", "threat-actor", _set(lang="klingon-9")),
        ("confidence over 100", "indicator", _set(confidence=101)),
        ("id of another type", "indicator", _set(id=f"malware--{uuid.uuid4()}")),
        ("id not a UUID", "indicator", _set(id="indicator--not-a-uuid")),
        ("type with capitals", "x-parley-custom", _set(type="X-Parley-Custom")),
        ("custom property without x_", "threat-actor", _set(note="not a spec property")),
        ("custom property with capitals", "threat-actor", _set(x_Parley_Note="no")),
        ("custom property too short", "threat-actor", _set(xx="no")),
        ("spec_version 2.0", "threat-actor", _set(spec_version="2.0")),
        ("relationship without ends", "relationship", _drop("source_ref")),
        ("relationship type with spaces", "relationship", _set(relationship_type="located at")),
        ("stop_time before start_time", "relationship", _set(stop_time="2025-01-01T00:00:00Z")),
        ("sighting count negative", "sighting", _set(count=-1)),
        ("location without place", "identity", _set(type="location")),
        ("malware without is_family", "malware", _drop("is_family")),
        ("vocabulary value not in enum", "identity", _set(identity_class="club")),
        ("address not an address", "ipv4-addr", _set(value="not an address")),
        ("autonomous system number as text", "autonomous-system", _set(number="AS15139")),
        ("hash not hex", "file", _set(hashes={"SHA-256": "zz"})),
        ("file without name or hashes", "file", _drop("name")),
        ("network traffic without protocols", "network-traffic", _drop("protocols")),
        ("port out of range", "network-traffic", _set(src_port=70000)),
        ("end before start", "network-traffic", _set(end="2025-01-01T00:00:00Z")),
        (
            "process with a v5 UUID",
            "process",
            _set(id="process--" + str(uuid.uuid5(uuid.NAMESPACE_DNS, "p"))),
        ),
        ("CPE not 2.3", "software", _set(cpe="cpe:/a:microsoft:word:2000")),
        ("artifact with both payload and url", "artifact", _set(url="https://e.org/a")),
        ("artifact mime type not IANA", "artifact", _set(mime_type="application/not-a-type")),
        ("email not an address", "email-addr", _set(value="no at sign")),
        ("email message date in words", "email-message", _set(date="Monday")),
        ("marking definition type unknown", "marking-definition", _set(definition_type="nda")),
        (
            "language content key not a language",
            "language-content",
            _set(contents={"xx-notalang-zz": {"name": "a"}}),
        ),
        ("extension definition without schema", "extension-definition", _drop("schema")),
        (
            "granular marking without selectors",
            "indicator",
            _set(granular_markings=[{"marking_ref": MARKING}]),
        ),
        (
            "granular marking bad selector",
            "indicator",
            _set(granular_markings=[{"marking_ref": MARKING, "selectors": ["no_such_property"]}]),
        ),
        ("marks itself", "marking-definition", lambda o: o.update(object_marking_refs=[o["id"]])),
        (
            "kill chain phase without phase",
            "attack-pattern",
            _set(kill_chain_phases=[{"kill_chain_name": "lockheed"}]),
        ),
        (
            "observed-data embedded observable without type",
            "observed-data",
            _set(objects={"0": {"value": "10.0.0.1"}}, object_refs=None),
        ),
        (
            "observed-data with both objects and refs",
            "observed-data",
            _set(objects={"0": {"type": "ipv4-addr", "value": "10.0.0.1"}}),
        ),
        ("observed-data number_observed zero", "observed-data", _set(number_observed=0)),
        ("extension not a dictionary", "threat-actor", _set(extensions=["x"])),
    ]
    out: list[tuple[str, dict[str, Any]]] = [
        (
            "observed-data with embedded objects (deprecated; the validator fails on them)",
            _sdo(
                "observed-data",
                first_observed=NOW,
                last_observed=NOW,
                number_observed=1,
                objects={"0": {"type": "ipv4-addr", "value": "10.0.0.1"}},
            ),
        )
    ]
    for name, kind, mutate in cases:
        obj = copy.deepcopy(by_type[kind])
        mutate(obj)
        out.append((name, {k: v for k, v in obj.items() if v is not None}))
    return out


def corpus() -> list[tuple[str, dict[str, Any]]]:
    named = [(f"valid {o['type']} {i}", o) for i, o in enumerate(every_type())]
    named += [(f"example {o['type']} {o['id']}", o) for o in spec_examples()]
    return named + broken()


CORPUS = corpus()
# Objects stix2-validator accepts although a reader might expect a refusal: STIX 2.1 allows
# custom properties without the x_ prefix and open vocabularies (the validator warns: SHOULDs),
# and leaves these co-constraints to producers. parley agrees with the oracle on them.
LENIENT = {
    "custom property without x_",
    "vocabulary value not in enum",
    "file without name or hashes",
    "artifact with both payload and url",
    "created_by_ref to a non-identity",
    "marking definition type unknown",
    "spec_version 2.0",
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def test_corpus_covers_every_type_and_many_faults() -> None:
    schemas = Path(stix2validator.__file__).parent / "schemas-2.1" / "schemas"
    kinds = {p.stem for d in ("sdos", "sros", "observables") for p in (schemas / d).glob("*.json")}
    kinds |= {"marking-definition", "language-content", "extension-definition"}
    assert kinds <= {o["type"] for name, o in CORPUS if name.startswith("valid ")}
    assert len(spec_examples()) >= 100
    assert len(broken()) - len(LENIENT) >= 55


@pytest.mark.parametrize(("name", "obj"), CORPUS, ids=[n for n, _ in CORPUS])
def test_same_verdict_as_stix2_validator(
    validator: Validator, name: str, obj: dict[str, Any]
) -> None:
    oracle = validator.reference_errors(copy.deepcopy(obj))
    mine = validator.errors(copy.deepcopy(obj))
    if name.startswith(("valid ", "example ")) or name in LENIENT:
        assert oracle == [], "the oracle refuses this object: not the case it claims to be"
    else:
        assert oracle, "the oracle accepts this object: not a useful broken case"
    assert bool(mine) == bool(oracle), f"parley {mine!r}; stix2-validator {oracle!r}"
    try:
        musts = validator._loaded().must_errors(copy.deepcopy(obj))
    except Exception:  # the validator's own code fails on this object; both refuse it
        musts = []
    # The MUST checks are the validator's own code: their wording is the oracle's.
    assert set(musts) <= set(oracle)


PATTERNS = [
    "[ipv4-addr:value = '198.51.100.1/32']",
    "[file:hashes.'SHA-256' = '" + SHA256 + "']",
    "[file:hashes.MD5 = 'not hex']",
    "[email-message:from_ref.value MATCHES '.+@example\\\\.com$'] WITHIN 300 SECONDS",
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_port = 443]",
    "([a:b = 1] OR [c:d = 2]) REPEATS 5 TIMES",
    "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
    "[x-parley-thing:Bad = 'a']",
    "[ab:value = 'too short a type']",
    "[ipv4-addr:value = '1.2.3.4'",
    "ipv4-addr:value = '1.2.3.4'",
    "[ipv4-addr:value = '1.2.3.4'] START t'2026-01-01T00:00:00Z' STOP t'2026-01-02T00:00:00Z'",
    "[windows-registry-key:values[*].name = 'Foo']",
    "[process:extensions.'windows-process-ext'.aslr_enabled = true]",
    "",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_check_is_the_validators(pattern: str) -> None:
    """One parse gives the validator's pattern errors, word for word."""
    from stix2validator import ValidationOptions
    from stix2validator.v21 import musts

    from parley.intel import checking

    options = ValidationOptions(version="2.1")
    obj = _sdo("indicator", pattern=pattern, pattern_type="stix", valid_from=NOW)
    assert _outcome(checking._pattern, obj, options) == _outcome(musts.patterns, obj, options)


def _outcome(check: Callable[..., Any], *args: Any) -> list[str] | str:
    """A check's messages, or the error it fails with (the validator fails on some input)."""
    try:
        return [str(e) for e in check(*args)]
    except Exception as exc:
        return type(exc).__name__


def test_the_pattern_is_parsed_once(validator: Validator, monkeypatch: pytest.MonkeyPatch) -> None:
    from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser

    parses = []
    original = STIXPatternParser.pattern

    def counted(self: STIXPatternParser) -> Any:
        parses.append(1)
        return original(self)

    validator.check(every_type()[6])  # loaded before counting
    monkeypatch.setattr(STIXPatternParser, "pattern", counted)
    # A qualifier takes the pattern outside parley.intel.patterns' subset, to ANTLR.
    indicator = _sdo(
        "indicator",
        pattern="[ipv4-addr:value = '10.0.0.1'] WITHIN 60 SECONDS",
        pattern_type="stix",
        valid_from=NOW,
    )
    validator.check(indicator)
    assert len(parses) == 1


@settings(max_examples=400, deadline=None)
@given(
    st.from_regex(
        r"\A[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9])"
        r":([0-5][0-9]|60)(\.[0-9]{1,12})?Z\Z"
    )
)
def test_timestamp_check_is_the_validators(stamp: str) -> None:
    """The validator's timestamp check, with dateutil only for dates the standard library
    cannot build, says what the validator says about every timestamp its regex lets through."""
    from stix2validator.v21 import musts

    from parley.intel import checking

    obj = _sdo("campaign", name="c", created=stamp, modified=stamp, first_seen=stamp)
    theirs = [str(e) for e in musts.timestamp(obj)]
    assert [str(e) for e in checking._timestamp(obj)] == theirs
