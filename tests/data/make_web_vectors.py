"""Write tests/data/web-vectors.json: what the Python side makes, for the page's node tests.

The page (web/src) re-implements canonical JSON, JWS signing, receipts and witness policies in
JavaScript; its tests (web/test/python-vectors.test.mjs) must agree with the Python code
byte for byte. Every expected value here is computed by parley's own Python modules, with keys
from fixed seeds and a fixed clock, so the file is reproducible:

    .venv/bin/python tests/data/make_web_vectors.py

tests/test_web_js.py fails when the committed file differs from what this script writes now,
so a change on the Python side that the page does not follow shows up as a failing test.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import random
import string
import struct
import sys
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyproj import Transformer

from parley.client import receipts
from parley.errors import ParleyError
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.log.policy import Policy
from parley.parties import jws, keys

HERE = Path(__file__).resolve().parent
OUT = HERE / "web-vectors.json"

# RFC 8785 appendix B: IEEE 754 bit patterns and the text JCS writes for each.
RFC8785_NUMBERS = {
    "0000000000000000": "0",
    "8000000000000000": "0",
    "0000000000000001": "5e-324",
    "8000000000000001": "-5e-324",
    "7fefffffffffffff": "1.7976931348623157e+308",
    "ffefffffffffffff": "-1.7976931348623157e+308",
    "4340000000000000": "9007199254740992",
    "c340000000000000": "-9007199254740992",
    "4430000000000000": "295147905179352830000",
    "44b52d02c7e14af5": "9.999999999999997e+22",
    "44b52d02c7e14af6": "1e+23",
    "44b52d02c7e14af7": "1.0000000000000001e+23",
    "444b1ae4d6e2ef4e": "999999999999999700000",
    "444b1ae4d6e2ef4f": "999999999999999900000",
    "444b1ae4d6e2ef50": "1e+21",
    "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
    "3eb0c6f7a0b5ed8d": "0.000001",
    "41b3de4355555553": "333333333.3333332",
    "41b3de4355555554": "333333333.33333325",
    "41b3de4355555555": "333333333.3333333",
    "41b3de4355555556": "333333333.3333334",
    "41b3de4355555557": "333333333.33333343",
    "becbf647612f3696": "-0.0000033333333333333333",
    "43143ff3c1cb0959": "1424953923781206.2",
}
NOT_NUMBERS = ["7ff0000000000000", "fff0000000000000", "7ff8000000000000"]  # ±Infinity, NaN

# JSON texts whose canonical form both sides must write: RFC 8785 sections 3.2.2 and 3.2.3,
# then what the page signs (coordinates, times, non-ASCII names, nested bodies).
DOCUMENTS = [
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
    ' "literals": [null, true, false]}',
    '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With'
    ' Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",'
    ' "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    '{"b": 1, "a": [true, null, "x"], "\\u00e9": 2, "A": 1e21, "": {}}',
    "[-0, 0.1, 36.20124, 1e-7, 3000, 1.0, -1.5e-10, 1.2345678901234568e20, 9007199254740991]",
    '"\\u0001\\u001f\\u007f\\u2028\\u2029 <script> \\ud83d\\ude00'
    ' \\u0627\\u0644\\u0631\\u0642\\u0629"',
    '{"kind": "site", "body": {"name": "\\u0645\\u0633\\u062a\\u0634\\u0641\\u0649 \\u0627\\u0644'
    '\\u0631\\u0627\\u0632\\u064a", "category": "medical", "geometry": {"type": "Point",'
    ' "coordinates": [37.16117, 36.20124]}}, "audience": ["b", "a"], "nonce": "x"}',
    '{"z": {"y": {"x": [[], {}, [{"b": 2, "a": 1}]]}}, "aa": "\\u00ff", "a\\u0000": 0}',
]
NOT_CANONICAL = ['"\\ud800"', '{"\\udc00": 1}', '["ok", "\\ude00x"]']  # lone surrogates


def _seed_key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def _float(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


def _refused(run: Any) -> bool:
    try:
        run()
    except (ParleyError, ValueError, TypeError, rfc8785.CanonicalizationError):
        return True
    return False


def canonical_vectors() -> dict[str, Any]:
    numbers = []
    for bits, want in RFC8785_NUMBERS.items():
        got = rfc8785.dumps(_float(bits)).decode()
        assert got == want, f"rfc8785 writes {bits} as {got}, RFC 8785 says {want}"
        numbers.append({"bits": bits, "canonical": got, "source": "RFC 8785 appendix B"})
    rng = random.Random(8785)
    while len(numbers) < 24 + 400:
        bits = f"{rng.getrandbits(64):016x}"
        if math.isfinite(_float(bits)):
            numbers.append({"bits": bits, "canonical": rfc8785.dumps(_float(bits)).decode()})
    for _ in range(100):  # numbers as people type them: few digits, any magnitude
        value = round(rng.uniform(-180, 180), rng.randint(0, 7)) * 10 ** rng.randint(-8, 8)
        bits = struct.pack(">d", value).hex()
        numbers.append({"bits": bits, "canonical": rfc8785.dumps(value).decode()})
    for bits in NOT_NUMBERS:
        assert _refused(lambda b=bits: rfc8785.dumps(_float(b)))
    documents = [
        {"json": text, "canonical": rfc8785.dumps(json.loads(text)).decode()} for text in DOCUMENTS
    ]
    for text in NOT_CANONICAL:
        assert _refused(lambda t=text: rfc8785.dumps(json.loads(t)))
    return {
        "numbers": numbers,
        "not_numbers": NOT_NUMBERS,
        "documents": documents,
        "not_canonical": NOT_CANONICAL,
    }


PARTY = "party-north"
DOCUMENT = {
    "kind": "site",
    "party": PARTY,
    "client_time": "2026-03-01T08:15:30.250Z",
    "nonce": "Wm9vLWJhci1iYXotcXV4LXF1dXgtY29yZ2U",
    "audience": "all",
    "body": {
        "name": "مستشفى الرازي — Al-Razi hospital",
        "category": "medical",
        "geometry": {"type": "Point", "coordinates": [37.16117, 36.20124]},
        "note": 'line 1\nline 2 "quoted" \u2028',
        "capacity": 120,
        "radius_m": 12.5,
    },
}


def jws_vectors() -> dict[str, Any]:
    key = _seed_key("parley web vectors: party-north")
    compact = jws.sign(DOCUMENT, key, PARTY)
    parsed = jws.Parsed(compact)
    parsed.verify(key.public_key(), PARTY)
    header, payload, signature = compact.split(".")
    other = jws.sign({**DOCUMENT, "nonce": "another-nonce-another-nonce-0000"}, key, PARTY)
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    forged = {
        # a valid signature over another payload, and a changed signature byte
        "other payload": f"{header}.{other.split('.')[1]}.{signature}",
        "changed signature": f"{header}.{payload}.{flipped}",
        "signed by another key": jws.sign(DOCUMENT, _seed_key("someone else"), PARTY),
    }
    for name, text in forged.items():
        assert _refused(lambda t=text: jws.Parsed(t).verify(key.public_key(), PARTY)), name
    return {
        "key_file": keys.private_jwk(key),
        "kid": PARTY,
        "document": DOCUMENT,
        "compact": compact,
        "forged": forged,
    }


ORIGIN = "hub.test/parley-web-vectors"
WITNESSES = ["witness.test/alpha", "witness.test/beta", "witness.test/gamma"]
TIME = 1772352000  # 2026-03-01T08:00:00Z


def _submissions(party_key: Ed25519PrivateKey) -> list[dict[str, Any]]:
    subs = []
    for i in range(7):
        restricted = i in (2, 5)
        doc = {
            **DOCUMENT,
            "nonce": f"nonce-{i:02d}-0123456789abcdef0123",
            "audience": ["party-north", "party-south"] if restricted else "all",
        }
        subs.append(
            {
                "id": f"sub-{i:04d}",
                "kind": "site",
                "party": PARTY,
                "received_at": f"2026-03-01T08:{i:02d}:00.000000Z",
                "jws": jws.sign(doc, party_key, PARTY),
                "salt": hashlib.sha256(f"salt {i}".encode()).hexdigest() if restricted else None,
            }
        )
    return subs


def _entry(sub: dict[str, Any]) -> bytes:
    """The log entry as docs/entries.md defines it (parley.hub.admission.log_entry)."""
    data = sub["jws"].encode("ascii")
    if sub["salt"] is None:
        document: dict[str, Any] = {
            "v": 1,
            "id": sub["id"],
            "kind": sub["kind"],
            "party": sub["party"],
            "received_at": sub["received_at"],
            "jws_sha256": hashlib.sha256(data).hexdigest(),
        }
    else:
        digest = hashlib.sha256(bytes.fromhex(sub["salt"]) + data).hexdigest()
        document = {"v": 1, "received_at": sub["received_at"], "commitment": digest}
    return jws.canonical(document)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def receipt_vectors() -> dict[str, Any]:
    party_key = _seed_key("parley web vectors: party-north")
    log = note.Signer(ORIGIN, _seed_key("parley web vectors: log"))
    cosigners = [
        note.CosignatureSigner(name, _seed_key(f"parley web vectors: {name}"), lambda t=TIME + i: t)
        for i, name in enumerate(WITNESSES)
    ]
    subs = _submissions(party_key)
    entries = [_entry(s) for s in subs]
    tree = merkle.MerkleTree(merkle.leaf_hash(e) for e in entries)
    size = len(entries)
    signed = cp.sign_checkpoint(cp.Checkpoint(ORIGIN, size, tree.root(size)), log)
    cosigned = signed
    for cosigner in cosigners[:2]:  # alpha and beta cosign; gamma does not
        cosigned = cp.cosign_checkpoint(cosigned, log.verifier(), ORIGIN, cosigner)
    log_key = log.verifier().key_string()
    witness_keys = {c.name: c.key_string() for c in cosigners}
    lines = [f"witness {n.split('/')[1]} {k}" for n, k in witness_keys.items()]

    def policy(quorum: str) -> str:
        return "\n".join([f"log {log_key}", *lines, quorum]) + "\n"

    policies = {
        "two of three": policy("group two 2 alpha beta gamma\nquorum two"),
        "all three": policy("group all3 all alpha beta gamma\nquorum all3"),
        "gamma": policy("quorum gamma"),
        "nested": policy("group ab any alpha beta\ngroup g all ab gamma\nquorum g"),
        "none": f"log {log_key}\nquorum none\n",
    }

    good = []
    for index in (0, 2, 3, 6):
        sub = subs[index]
        receipt = {
            "version": "parley-receipt/1",
            "origin": ORIGIN,
            "index": index,
            "tree_size": size,
            "entry": _b64(entries[index]),
            "inclusion_proof": [_b64(h) for h in tree.inclusion_proof(index, size)],
            "checkpoint": cosigned,
            "submission": sub,
        }
        proved = receipts.verify(receipt, log_key, party_key.public_key())
        checks = {}
        for name, text in policies.items():
            try:
                checks[name] = receipts.verify(receipt, log_key, None, Policy.parse(text))[
                    "cosignatures"
                ]
            except ParleyError:
                checks[name] = None
        good.append(
            {
                "receipt": receipt,
                "proves": {k: proved[k] for k in ("index", "tree_size", "origin", "received_at")}
                | {"kind": proved["kind"], "party": proved["party"]},
                "restricted": sub["salt"] is not None,
                "policies": checks,
            }
        )

    base = good[0]["receipt"]
    restricted = good[1]["receipt"]
    other_log = note.Signer(ORIGIN, _seed_key("another log"))
    bad: dict[str, Any] = {}

    def spoil(name: str, source: dict[str, Any], change: Any) -> None:
        receipt = copy.deepcopy(source)
        change(receipt)
        bad[name] = receipt

    spoil("another version", base, lambda r: r.update(version="parley-receipt/2"))
    spoil("another index", base, lambda r: r.update(index=1))
    spoil("index beyond the tree", base, lambda r: r.update(index=size))
    spoil("proof one hash short", base, lambda r: r["inclusion_proof"].pop())
    spoil("proof one hash long", base, lambda r: r["inclusion_proof"].append(_b64(bytes(32))))
    spoil(
        "proof hash changed", base, lambda r: r["inclusion_proof"].__setitem__(0, _b64(bytes(32)))
    )
    spoil("proof not base64", base, lambda r: r["inclusion_proof"].__setitem__(0, "#!"))
    spoil(
        "proof hash respelled (a spare bit set: the same bytes to a lenient decoder)",
        base,
        lambda r: r["inclusion_proof"].__setitem__(0, _spare_bit_set(r["inclusion_proof"][0])),
    )
    spoil("entry of another submission", base, lambda r: r.update(entry=_b64(entries[1])))
    spoil("entry not JSON", base, lambda r: r.update(entry=_b64(b"{not json")))
    spoil("another JWS", base, lambda r: r["submission"].update(jws=subs[1]["jws"]))
    spoil("another id", base, lambda r: r["submission"].update(id="sub-9999"))
    spoil("restricted, salt changed", restricted, lambda r: r["submission"].update(salt="00" * 32))
    spoil("restricted, salt missing", restricted, lambda r: r["submission"].update(salt=None))
    spoil("restricted, salt not hex", restricted, lambda r: r["submission"].update(salt="zz"))
    spoil(
        "checkpoint by another log key",
        base,
        lambda r: r.update(
            checkpoint=cp.sign_checkpoint(cp.Checkpoint(ORIGIN, size, tree.root(size)), other_log)
        ),
    )
    spoil(
        "checkpoint of a smaller tree",
        base,
        lambda r: r.update(
            checkpoint=cp.sign_checkpoint(cp.Checkpoint(ORIGIN, size - 1, tree.root(size - 1)), log)
        ),
    )
    spoil("checkpoint missing", base, lambda r: r.pop("checkpoint"))
    for name, receipt in bad.items():
        assert _refused(lambda r=receipt: receipts.verify(r, log_key)), name
    return {
        "log_key": log_key,
        "party_public_key": keys.public_jwk(party_key.public_key())["x"],
        "witness_keys": witness_keys,
        "policies": policies,
        "good": good,
        "bad": bad,
    }


def _spare_bit_set(text: str) -> str:
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    i = len(text.rstrip("=")) - 1
    assert i < len(text) - 1, "no padding, no spare bits"
    respelled = text[:i] + alphabet[alphabet.index(text[i]) ^ 1] + text[i + 1 :]
    assert base64.b64decode(respelled) == base64.b64decode(text)
    return respelled


def utm_positions() -> list[dict[str, Any]]:
    """The shared table's MGRS cases, expected position read from UTM by pyproj (as
    tests/formats/test_positions.py does), so the page's MGRS reader is held to them too."""
    table = json.loads((HERE / "positions.json").read_text(encoding="utf-8"))
    out = []
    for case in table["cases"]:
        if "utm" not in case:
            continue
        u = case["utm"]
        epsg = (32700 if u["south"] else 32600) + u["zone"]
        to_wgs84 = Transformer.from_crs(epsg, 4326, always_xy=True)
        lon, lat = to_wgs84.transform(u["easting"], u["northing"])
        out.append(
            {
                "input": case["input"],
                "lat": round(lat, 9),
                "lon": round(lon, 9),
                "tolerance_m": case["tolerance_m"],
            }
        )
    return out


def build() -> str:
    vectors = {
        "about": "Written by tests/data/make_web_vectors.py from parley's Python code; read by"
        " web/test/python-vectors.test.mjs. Do not edit: run the script.",
        "canonical": canonical_vectors(),
        "jws": jws_vectors(),
        "receipts": receipt_vectors(),
        "utm_positions": utm_positions(),
    }
    return json.dumps(vectors, indent=1, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(build(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT}\n")
