"""The map page's JavaScript, run by the suite: its node tests and its committed bundle.

The page signs, checks receipts and reads positions itself (web/src), so it is held to the same
vectors as the Python side (web/test, tests/data/web-vectors.json). Here we check that:

- tests/data/web-vectors.json is exactly what tests/data/make_web_vectors.py writes from the
  Python code today, so the page's tests cannot drift from the hub's behaviour;
- every node test passes and none is skipped (a skip hid the Merkle and signed-note vectors
  for a long time);
- src/parley/web/static/, which the hub serves and which is committed so no node is needed at
  run time, is what web/build.mjs makes from web/src now.

Node and npm come from Debian's packages (scripts/test installs them). Without node these tests
skip, unless ``PARLEY_REQUIRE_POSTGRES`` is set (CI), where they fail instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
STATIC = ROOT / "src" / "parley" / "web" / "static"
VECTORS = ROOT / "tests" / "data" / "web-vectors.json"
# npm ci wipes and refills node_modules; this stamp names the lockfile it last installed, so a
# run only reinstalls when the lockfile changed (or on a fresh clone).
STAMP = WEB / "node_modules" / ".parley-lockfile-sha256"


def _missing(why: str) -> None:
    if os.environ.get("PARLEY_REQUIRE_POSTGRES"):
        pytest.fail(f"{why} (scripts/test installs Debian's nodejs and npm)")
    pytest.skip(why)


def _node() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _missing("node and npm are required")
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = re.match(r"v(\d+)\.", version.stdout)
    # The page's code and tests use what browsers and Node 20 have and Node 18 lacks:
    # globalThis.crypto with Ed25519, String.prototype.isWellFormed, import.meta.dirname.
    if major is None or int(major.group(1)) < 20:
        _missing(f"node 20 or later is required, not {version.stdout.strip() or node}")
    return node


@pytest.fixture(scope="module")
def node() -> str:
    """node, with web/node_modules installed from web/package-lock.json."""
    found = _node()
    lock = hashlib.sha256((WEB / "package-lock.json").read_bytes()).hexdigest()
    if not STAMP.is_file() or STAMP.read_text().strip() != lock:
        # Offline first: the npm cache usually has everything; the registry otherwise.
        for args in (["npm", "ci", "--offline"], ["npm", "ci"]):
            run = subprocess.run(
                [*args, "--no-audit", "--no-fund"],
                cwd=WEB,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if run.returncode == 0:
                break
        else:
            pytest.fail(f"npm ci failed in web/:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        STAMP.write_text(lock + "\n")
    return found


def test_web_vectors_are_what_the_python_code_makes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_web_vectors", ROOT / "tests" / "data" / "make_web_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == VECTORS.read_text(encoding="utf-8"), (
        "tests/data/web-vectors.json is stale: run .venv/bin/python tests/data/make_web_vectors.py"
        " and check that the page's node tests still pass"
    )


def test_node_tests_pass_and_none_is_skipped(node: str) -> None:
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", "web/test/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    counts = dict(
        re.findall(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", run.stdout, re.M)
    )
    failing = [line for line in run.stdout.splitlines() if line.lstrip().startswith("not ok")]
    detail = f"{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert run.returncode == 0 and not failing, f"node tests failed: {failing}\n{detail}"
    assert int(counts.get("tests", 0)) >= 15, detail
    assert counts.get("pass") == counts.get("tests"), detail
    assert all(counts.get(k) == "0" for k in ("fail", "cancelled", "skipped", "todo")), (
        f"every node test must run and pass: {counts}"
    )


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _differences(fresh: Path, committed: Path) -> list[str]:
    a, b = _files(fresh), _files(committed)
    return sorted(
        [f"only in the fresh build: {n}" for n in a.keys() - b.keys()]
        + [f"only in the committed bundle: {n}" for n in b.keys() - a.keys()]
        + [f"differs: {n}" for n in a.keys() & b.keys() if a[n] != b[n]]
    )


def test_committed_bundle_is_a_fresh_build(node: str, tmp_path: Path) -> None:
    out = tmp_path / "static"
    run = subprocess.run(
        [node, "web/build.mjs", "--outdir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"web/build.mjs failed:\n{run.stdout}\n{run.stderr}"
    differences = _differences(out, STATIC)
    assert not differences, (
        "src/parley/web/static/ is not what web/src builds to: run `cd web && npm run build` and"
        " commit the result:\n" + "\n".join(differences)
    )
