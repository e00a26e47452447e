"""stix2-validator's verdict on one object, computed once: compiled schemas, MUST checks, one
pattern parse (see parley.intel.stix for why, and tests/test_stix_schema_agreement.py for the
proof that the verdicts are the validator's)."""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dateutil.parser
import jsonschema_rs
from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker
from jsonschema import Draft202012Validator
from stix2patterns.exceptions import STIXPatternErrorListener
from stix2patterns.helpers import brackets_check
from stix2patterns.inspector import _PatternData
from stix2patterns.v21 import object_validator
from stix2patterns.v21.grammars.STIXPatternLexer import STIXPatternLexer
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser
from stix2patterns.v21.inspector import InspectionListener
from stix2patterns.v21.validator import DuplicateQualifierTypeError, ValidationListener
from stix2validator import ValidationOptions
from stix2validator import validator as sv
from stix2validator.errors import PatternError, pretty_error
from stix2validator.v21 import enums
from stix2validator.v21 import musts as musts21

from parley.intel import patterns

VERSION = "2.1"
SCHEMAS = Path(sv.__file__).parent / f"schemas-{VERSION}" / "schemas"

# The formats the schemas name, checked by the same functions stix2-validator's jsonschema uses
# (jsonschema-rs has its own, which differ at the edges: an IDN host name, a relative URI).
_FORMATS = ("email", "idn-hostname", "uri")

# The wording stix2-validator gives a failed regex, by the title of the schema that holds it.
_REWORDED = {
    "type": "does not match the 'type' field format (lowercase ASCII a-z, 0-9, and hyphens "
    "only - and no two hyphens in a row)",
    "identifier": "does not match the id format ([object-type]--[UUID])",
    "timestamp": "does not match the timestamp format YYYY-MM-DDTHH:mm:ss[.s+]Z",
    "timestamp_millis": "does not match the timestamp format YYYY-MM-DDTHH:mm:ss.sssZ (must be "
    "precise to the millisecond)",
    "relationship_type": "contains invalid characters",
    "url-regex": "does not match the format of a URL",
    "binary": "must be a base64-encoded string",
}


class Rules:
    """The compiled schemas by name (an object's type, or a core schema) and the MUST checks."""

    def __init__(
        self,
        schemas: dict[str, Any],
        observed_data: Any,
        musts: list[Callable[..., Any]],
        options: ValidationOptions,
        patterns: dict[str, str],
    ) -> None:
        self._schemas = schemas
        self._observed_data = observed_data
        self._musts = musts
        self._options = options
        self._patterns = patterns

    @classmethod
    def load(cls) -> Rules:
        loaded: dict[str, tuple[str, dict[str, Any]]] = {}
        # os.walk, skipping examples, first file of a name wins: as stix2-validator's
        # find_schema picks the schema for a type.
        for root, _dirs, files in os.walk(SCHEMAS, followlinks=True):
            if "examples" in root:
                continue
            for name in sorted(files):
                if name.endswith(".json") and name[:-5] not in loaded:
                    path = Path(root) / name
                    # The patch the validator applies: $id becomes the file's own URI, so the
                    # relative $refs resolve among the files.
                    schema = sv.patch_schema(json.loads(path.read_text()), str(path))
                    loaded[name[:-5]] = (path.as_uri(), schema)
        registry = jsonschema_rs.Registry([(uri, schema) for uri, schema in loaded.values()])
        formats = {name: _python_format(name) for name in _FORMATS}

        def compile_(schema: dict[str, Any]) -> Any:
            return jsonschema_rs.Draft202012Validator(
                schema, registry=registry, validate_formats=True, formats=formats
            )

        schemas = {name: compile_(schema) for name, (_uri, schema) in loaded.items()}
        # As the validator does: observed-data's own schema leaves `objects` unconstrained;
        # each embedded observable is then checked against its type's schema.
        observed = json.loads(json.dumps(loaded["observed-data"][1]))
        observed["allOf"][1]["properties"]["objects"] = {
            "objects": {"type": "object", "minProperties": 1}
        }
        options = ValidationOptions(version=VERSION)
        options.set_check_codes(VERSION)
        faster: dict[Any, Callable[..., Any]] = {
            musts21.patterns: _pattern,
            musts21.timestamp: _timestamp,
            musts21.timestamp_compare: _timestamp_compare,
            musts21.observable_timestamp_compare: _observable_timestamp_compare,
        }
        musts = [faster.get(check, check) for check in musts21.list_musts(options)]
        patterns: dict[str, str] = {}
        for _uri, schema in loaded.values():
            _collect_patterns(schema, patterns)
        return cls(schemas, compile_(observed), musts, options, patterns)

    def errors(self, obj: dict[str, Any]) -> list[str]:
        try:
            return list(self.schema_errors(obj)) + self.must_errors(obj)
        except Exception as exc:  # as validate_instance, which raises on malformed input
            return [_one_line(exc)]

    def must_errors(self, obj: dict[str, Any]) -> list[str]:
        found = sv._iter_errors_custom(obj, self._musts, self._options)
        return [_one_line(pretty_error(e, False)) for e in found]

    def schema_errors(self, obj: dict[str, Any]) -> Iterator[str]:
        stix_type = obj["type"]
        prefix = f"{obj['id']}: "
        if stix_type == "observed-data":
            yield from self._described(self._observed_data, obj, prefix)
            embedded = obj.get("objects")
            if embedded is None:
                return
            if not isinstance(embedded, dict):
                yield prefix + "Observed Data objects must be in dict format."
                return
            for key, observable in embedded.items():
                where = f"{prefix}object '{key}': "
                if "type" not in observable:
                    yield where + "Observable object must contain a 'type' property."
                    continue
                schema = self._schemas.get(observable["type"])
                yield from self._described(
                    schema or self._schemas["cyber-observable-core"], observable, where
                )
            return
        schema = self._schemas.get(stix_type)
        if schema is None:
            observable = not any(p in obj for p in ("created", "modified"))
            core = observable and stix_type != "marking-definition"
            schema = self._schemas["cyber-observable-core" if core else "core"]
        yield from self._described(schema, obj, prefix)

    def _described(self, schema: Any, obj: Any, prefix: str) -> Iterator[str]:
        for error in schema.iter_errors(obj):
            where = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path
            ).lstrip(".")
            message = error.message
            if type(error.kind).__name__ == "Pattern":
                pattern = error.kind.pattern
                title = self._patterns.get(pattern)
                if title is not None:
                    message = f"{json.dumps(error.instance)} {_REWORDED[title]}"
                elif pattern.startswith("^") and pattern.endswith("--"):  # an id's own type
                    message = f"{json.dumps(error.instance)} does not start with '{pattern[1:]}'"
            yield _one_line(prefix + (f"{where}: " if where else "") + message)


def _python_format(name: str) -> Callable[[str], bool]:
    checker = Draft202012Validator.FORMAT_CHECKER

    def conforms(value: str) -> bool:
        return bool(checker.conforms(value, name))

    return conforms


def _collect_patterns(schema: Any, into: dict[str, str]) -> None:
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str) and schema.get("title") in _REWORDED:
            into[schema["pattern"]] = schema["title"]
        for value in schema.values():
            _collect_patterns(value, into)
    elif isinstance(schema, list):
        for value in schema:
            _collect_patterns(value, into)


class _Dates:
    """Stands in for dateutil's ``parser`` in the validator's ``timestamp`` check, which runs
    only on text that already matches its timestamp regex (so digits in fixed places): a date
    the standard library can build, dateutil parses too, at a hundredth of the cost; anything
    else goes to dateutil itself, which raises the validator's own error."""

    @staticmethod
    def parse(text: str) -> object:
        try:
            return datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
            )
        except ValueError:
            return dateutil.parser.parse(text)


# The validator's own ``timestamp`` check, its code unchanged, reading ``parser`` from globals
# where that name is :class:`_Dates` (dateutil's parse was four fifths of checking an object).
_timestamp = types.FunctionType(
    musts21.timestamp.__code__,
    {**vars(musts21), "parser": _Dates},
    "timestamp",
    musts21.timestamp.__defaults__,
    musts21.timestamp.__closure__,
)


_FIXED_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)


def datetime_from_str(text: str) -> object:
    """The validator's ``datetime_from_str`` (two ``strptime`` formats, the string itself if
    neither fits) without ``strptime``'s cost: for fixed-width digits with at most six
    fractional ones, both formats read exactly these fields, and ``datetime`` refuses the same
    out-of-range values; anything else goes to the validator's own function."""
    found = _FIXED_TIMESTAMP.fullmatch(text)
    if found is not None:
        year, month, day, hour, minute, second, fraction = found.groups()
        try:
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int(fraction.ljust(6, "0")) if fraction else 0,
            )
        except ValueError:
            pass
    return musts21.datetime_from_str(text)


def _with_globals(function: Any, **names: Any) -> Any:
    """The validator's ``function``, its code unchanged, reading ``names`` from its globals."""
    return types.FunctionType(
        function.__code__,
        {**vars(musts21), **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )


# The validator's timestamp comparisons (modified >= created, and the like), their code
# unchanged, parsing with the function above (strptime was a third of checking an indicator).
_compare = _with_globals(musts21.compare, datetime_from_str=datetime_from_str)
_timestamp_compare = _with_globals(musts21.timestamp_compare, compare=_compare)


def _rewrapped(wrapper: Any, inner: Any) -> Any:
    """``wrapper`` (the validator's cyber-observable decorator around one check) around
    ``inner`` instead of the check it was made with."""
    cells = tuple(
        types.CellType(inner if name == "original_function" else cell.cell_contents)
        for name, cell in zip(wrapper.__code__.co_freevars, wrapper.__closure__, strict=True)
    )
    return types.FunctionType(
        wrapper.__code__, wrapper.__globals__, wrapper.__name__, wrapper.__defaults__, cells
    )


_observable_timestamp_compare = _rewrapped(
    musts21.observable_timestamp_compare,
    _with_globals(
        dict(
            zip(
                musts21.observable_timestamp_compare.__code__.co_freevars,
                (c.cell_contents for c in musts21.observable_timestamp_compare.__closure__),
                strict=True,
            )
        )["original_function"],
        compare=_compare,
    ),
)


def _pattern(instance: dict[str, Any], options: ValidationOptions) -> Iterable[Any]:
    """stix2-validator's ``patterns`` MUST check with the pattern parsed once.

    The validator runs stix2-patterns' ``run_validator`` (a parse, then the object and
    qualifier checks on its tree) and then parses the pattern again to list the object types
    and properties it names. Both are answered here from one tree; the messages are the
    validator's. Patterns of other versions go to the validator's own check.
    """
    if (
        instance["type"] != "indicator"
        or instance.get("pattern_type", "") != "stix"
        or not isinstance(instance.get("pattern"), str)
    ):
        return
    version = instance.get("pattern_version", instance.get("spec_version", VERSION))
    if version != VERSION:
        yield from musts21.patterns(instance, options)
        return
    pattern: str = instance["pattern"]
    errors, comparisons = _parse(pattern)
    if errors:
        for e in errors:
            yield PatternError(str(e), instance["id"])
        return
    # The validator's further checks, as they run with its default options (no check
    # disabled, so the custom-prefix branches, which need 'extensions-use' disabled, never do).
    assert "extensions-use" not in options.disabled
    for objtype, expressions in comparisons.items():
        if objtype not in enums.OBSERVABLE_TYPES and (
            not musts21.TYPE_FORMAT_RE.match(objtype) or not 3 <= len(objtype) <= 250
        ):
            yield PatternError(f"'{objtype}' is not a valid observable type name", instance["id"])
        for expression in expressions:
            prop = expression[0][0]
            known = enums.OBSERVABLE_PROPERTIES.get(objtype, ())
            if prop not in known and not musts21.PROPERTY_FORMAT_RE.match(prop):
                yield PatternError(
                    f"'{prop}' is not a valid observable property name", instance["id"]
                )


def _parse(pattern: str) -> tuple[list[str], dict[str, Any]]:
    """stix2-patterns' ``run_validator`` for STIX 2.1, also handing back the tree's comparisons
    (what ``Pattern(pattern).inspect().comparisons`` would parse the pattern again for).
    A pattern in :mod:`parley.intel.patterns`' subset is read without ANTLR, to the same
    comparisons; the checks on them are the same code either way."""
    comparisons = patterns.simple(pattern)
    if comparisons is not None:
        # No syntax error, no qualifier (so none twice), and it opens with a bracket.
        data = _PatternData(comparisons, set(), set())
        return list(object_validator.verify_object(data) or ()), comparisons
    return _parse_antlr(pattern)


def _parse_antlr(pattern: str) -> tuple[list[str], dict[str, Any]]:
    """``run_validator`` itself: ANTLR's parse and the checks on its tree."""
    listener = STIXPatternErrorListener()
    lexer = STIXPatternLexer(InputStream(pattern))
    lexer.removeErrorListeners()
    parser = STIXPatternParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    for i, literal in enumerate(parser.literalNames):
        if literal == "<INVALID>":
            parser.literalNames[i] = parser.symbolicNames[i]
    tree = parser.pattern()
    errors: list[str] = listener.err_strings
    comparisons: dict[str, Any] = {}
    if not errors:
        inspection = InspectionListener()
        ParseTreeWalker.DEFAULT.walk(inspection, tree)
        data = inspection.pattern_data()
        errors.extend(object_validator.verify_object(data) or ())
        comparisons = data.comparisons
        try:
            ParseTreeWalker.DEFAULT.walk(ValidationListener(), tree)
        except DuplicateQualifierTypeError as exc:
            errors.insert(0, "FAIL: " + exc.args[0])
    if not brackets_check(pattern):
        errors.insert(0, "FAIL: Error found at line 1:0. input is missing square brackets")
    return errors, comparisons


def _one_line(text: object) -> str:
    return " ".join(str(text).split())
