"""Witness policies: which cosignatures a party needs before it believes a checkpoint.

The format follows Sigsum's trust policy (https://www.sigsum.org/), one statement a line, ``#``
comments::

    log      <verifier key of the log>              (optional; --log-key gives it too)
    witness  <name> <cosignature verifier key> [url]
    group    <name> <k | all | any> <member> ...   (members: witnesses or earlier groups)
    quorum   <witness or group name | none>

A group is satisfied when at least ``k`` of its members are; a witness is satisfied when its
cosignature on the checkpoint verifies. ``quorum none`` accepts the log's signature alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parley.errors import LogError
from parley.log import checkpoint as cp
from parley.log import note


class PolicyError(LogError):
    title = "Witness policy"
    slug = "witness-policy"


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass
class Policy:
    log_key: str | None = None
    witnesses: dict[str, note.CosignatureVerifier] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str | None = None  # None: "quorum none"

    @classmethod
    def parse(cls, text: str, source: str = "the policy") -> Policy:
        policy = cls()
        seen_quorum = False
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].split()
            if not line:
                continue
            where = f"{source}, line {number}"
            keyword, args = line[0], line[1:]
            if keyword == "log" and len(args) in (1, 2):
                policy.log_key = args[0]
            elif keyword == "witness" and len(args) in (2, 3):
                policy._witness(args, where)
            elif keyword == "group" and len(args) >= 3:
                policy._group(args, where)
            elif keyword == "quorum" and len(args) == 1:
                if seen_quorum:
                    raise PolicyError(f"{where}: a second quorum line")
                seen_quorum = True
                if args[0] != "none" and args[0] not in policy._names():
                    raise PolicyError(f"{where}: quorum names unknown {args[0]!r}")
                policy.quorum = None if args[0] == "none" else args[0]
            else:
                raise PolicyError(
                    f"{where}: cannot read {raw.strip()!r} (log, witness, group or quorum)"
                )
        if not seen_quorum:
            raise PolicyError(f"{source} has no quorum line (write 'quorum none' to need none)")
        return policy

    def _names(self) -> set[str]:
        return set(self.witnesses) | set(self.groups)

    def _witness(self, args: list[str], where: str) -> None:
        name, key = args[0], args[1]
        if name in self._names():
            raise PolicyError(f"{where}: {name!r} is defined twice")
        try:
            self.witnesses[name] = note.CosignatureVerifier.from_key(key)
        except note.NoteError as exc:
            raise PolicyError(f"{where}: witness {name!r}: {exc.detail}") from None
        if len(args) == 3:
            self.urls[name] = args[2]

    def _group(self, args: list[str], where: str) -> None:
        name, how, members = args[0], args[1], tuple(args[2:])
        if name in self._names():
            raise PolicyError(f"{where}: {name!r} is defined twice")
        unknown = [m for m in members if m not in self._names()]
        if unknown:
            raise PolicyError(f"{where}: group {name!r} names unknown members {unknown}")
        if len(set(members)) != len(members):
            raise PolicyError(f"{where}: group {name!r} names a member twice")
        if how == "all":
            threshold = len(members)
        elif how == "any":
            threshold = 1
        elif how.isdigit() and 1 <= int(how) <= len(members):
            threshold = int(how)
        else:
            raise PolicyError(
                f"{where}: group {name!r} needs all, any or a number from 1 to {len(members)}"
            )
        self.groups[name] = Group(name, threshold, members)

    def satisfied_by(self, cosigned: set[str]) -> bool:
        """Whether witnesses named ``cosigned`` (their note key names) meet the quorum."""
        if self.quorum is None:
            return True
        by_key_name = {n for n, v in self.witnesses.items() if v.name in cosigned}
        return self._met(self.quorum, by_key_name)

    def _met(self, name: str, witnesses: set[str]) -> bool:
        if name in self.witnesses:
            return name in witnesses
        group = self.groups[name]
        return sum(self._met(m, witnesses) for m in group.members) >= group.threshold

    def needs(self, name: str | None = None) -> str:
        """What satisfying ``name`` (default: the quorum) takes, in words."""
        name = self.quorum if name is None else name
        if name is None:
            return "no cosignature"
        if name in self.witnesses:
            key_name = self.witnesses[name].name
            return f"a cosignature by {name}" + (f" ({key_name})" if key_name != name else "")
        group = self.groups[name]
        parts = "; ".join(self.needs(m) for m in group.members)
        how = "all" if group.threshold == len(group.members) else str(group.threshold)
        return f"{how} of {len(group.members)} in group {name}: {parts}"

    def check_detailed(
        self, signed: str, log_verifier: note.NoteVerifier, origin: str
    ) -> tuple[cp.Checkpoint, list[note.VerifiedSignature]]:
        """Verify the log's signature and the quorum; return the checkpoint and the verified
        cosignatures of the policy's witnesses (with their timestamps)."""
        given = log_verifier.key_string() if isinstance(log_verifier, note.Verifier) else None
        if self.log_key is not None and given is not None and self.log_key != given:
            raise PolicyError(
                f"the policy's log key {self.log_key} is not the log key given ({given})"
            )
        checkpoint = cp.verify_checkpoint(signed, log_verifier, origin)
        verifiers = list(self.witnesses.values())
        cosigned: list[note.VerifiedSignature] = []
        if verifiers:
            try:
                _, verified = note.open_note_detailed(signed, [log_verifier, *verifiers])
            except note.NoteError as exc:
                raise PolicyError(f"a cosignature does not verify: {exc.detail}") from None
            cosigned = [v for v in verified if v.timestamp is not None]
        keys = {(v.name, v.key_id) for v in cosigned}
        present = {n for n, w in self.witnesses.items() if (w.name, w.key_id) in keys}
        if self.quorum is not None and not self._met(self.quorum, present):
            have = ", ".join(sorted(present)) or "none of the policy's witnesses"
            raise PolicyError(
                f"the checkpoint (size {checkpoint.size}) lacks the cosignatures the policy's "
                f"quorum needs: {self.needs()}; valid cosignatures from: {have}"
            )
        return checkpoint, cosigned

    def check(
        self, signed: str, log_verifier: note.NoteVerifier, origin: str
    ) -> tuple[cp.Checkpoint, list[str]]:
        """Verify the log's signature and the quorum; return the checkpoint and who cosigned."""
        checkpoint, cosigned = self.check_detailed(signed, log_verifier, origin)
        return checkpoint, sorted({v.name for v in cosigned})

    def witness_name(self, cosignature: note.VerifiedSignature) -> str:
        """The policy's name for the witness that made ``cosignature``."""
        for name, w in self.witnesses.items():
            if (w.name, w.key_id) == (cosignature.name, cosignature.key_id):
                return name
        return cosignature.name


def load(path: str | Path) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the policy {path}: {exc}") from None
    return Policy.parse(text, str(path))


def policy_text(
    log_key: str,
    witnesses: Sequence[tuple[str, str]],
    quorum: int = 0,
    comment: str = "",
) -> str:
    """A policy for a log cosigned by ``witnesses`` (url, cosignature verifier key): at least
    ``quorum`` of them (0: all) must cosign; with no witnesses, ``quorum none``."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append(f"log {log_key}")
    if not witnesses:
        return "\n".join([*lines, "quorum none"]) + "\n"
    names: list[str] = []
    for url, key in witnesses:
        base = key.split("+", 1)[0]
        name, n = base, 1
        while name in names:  # two witnesses may share a key name; the policy needs two names
            n += 1
            name = f"{base}-{n}"
        names.append(name)
        lines.append(f"witness {name} {key} {url}")
    k = len(names) if quorum <= 0 else min(quorum, len(names))
    lines.append(f"group witnesses {k if k < len(names) else 'all'} {' '.join(names)}")
    lines.append("quorum witnesses")
    return "\n".join(lines) + "\n"
