"""Witness policies (Sigsum-style): parsing, refusals with line numbers, and quorum decisions
over really cosigned checkpoints."""

from __future__ import annotations

import pytest

from parley.log import checkpoint as cp
from parley.log import note
from parley.log.policy import Policy, PolicyError

ORIGIN = "hub.test/log"
ROOT = bytes(range(32))


@pytest.fixture(scope="module")
def keys() -> tuple[note.Signer, list[note.CosignatureSigner]]:
    return note.Signer.generate(ORIGIN), [
        note.CosignatureSigner.generate(f"w{i}.test") for i in range(4)
    ]


def cosigned(log: note.Signer, by: list[note.CosignatureSigner]) -> str:
    signed = cp.sign_checkpoint(cp.Checkpoint(ORIGIN, 10, ROOT), log)
    for signer in by:
        signed = cp.cosign_checkpoint(signed, log.verifier(), ORIGIN, signer)
    return signed


def policy_text(witnesses: list[note.CosignatureSigner], *rest: str) -> str:
    lines = [f"witness W{i} {w.verifier().key_string()}" for i, w in enumerate(witnesses)]
    return "\n".join([*lines, *rest]) + "\n"


@pytest.mark.parametrize(
    ("rules", "signers", "ok"),
    [
        (["quorum W0"], [0], True),
        (["quorum W0"], [1, 2, 3], False),
        (["group G 2 W0 W1 W2", "quorum G"], [0, 2], True),
        (["group G 2 W0 W1 W2", "quorum G"], [0, 3], False),
        (["group G all W0 W1", "quorum G"], [0, 1], True),
        (["group G all W0 W1", "quorum G"], [1], False),
        (["group G any W2 W3", "quorum G"], [3], True),
        (["group A any W0 W1", "group B any W2 W3", "group T all A B", "quorum T"], [1, 2], True),
        (["group A any W0 W1", "group B any W2 W3", "group T all A B", "quorum T"], [0, 1], False),
        (["quorum none"], [], True),
    ],
)
def test_quorum_decisions(
    keys: tuple[note.Signer, list[note.CosignatureSigner]],
    rules: list[str],
    signers: list[int],
    ok: bool,
) -> None:
    log, witnesses = keys
    policy = Policy.parse(policy_text(witnesses, *rules))
    signed = cosigned(log, [witnesses[i] for i in signers])
    if ok:
        checkpoint, names = policy.check(signed, log.verifier(), ORIGIN)
        assert checkpoint.size == 10
        assert names == sorted(witnesses[i].name for i in signers)
    else:
        with pytest.raises(PolicyError, match="lacks the cosignatures"):
            policy.check(signed, log.verifier(), ORIGIN)


def test_a_damaged_cosignature_is_refused(
    keys: tuple[note.Signer, list[note.CosignatureSigner]],
) -> None:
    import base64

    log, witnesses = keys
    signed = cosigned(log, [witnesses[0]])
    head, last = signed.rstrip("\n").rsplit("\n", 1)
    prefix, b64 = last.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1  # the signature's last byte; the key id still names W0
    forged = f"{head}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    policy = Policy.parse(policy_text(witnesses, "quorum W0"))
    with pytest.raises(PolicyError, match="does not verify"):
        policy.check(forged, log.verifier(), ORIGIN)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("witness W0 nonsense\nquorum W0\n", "line 1: witness 'W0'"),
        ("quorum W9\n", "line 1: quorum names unknown 'W9'"),
        ("group G 2 W0\nquorum G\n", "unknown members"),
        ("frobnicate\nquorum none\n", "line 1: cannot read 'frobnicate'"),
        ("# nothing\n", "no quorum line"),
        ("quorum none\nquorum none\n", "line 2: a second quorum line"),
    ],
)
def test_bad_policies_are_refused_with_their_line(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says):
        Policy.parse(text)


def test_a_group_threshold_beyond_its_members_is_refused(
    keys: tuple[note.Signer, list[note.CosignatureSigner]],
) -> None:
    _, witnesses = keys
    with pytest.raises(PolicyError, match="a number from 1 to 2"):
        Policy.parse(policy_text(witnesses, "group G 3 W0 W1", "quorum G"))
