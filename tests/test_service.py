"""The hub as a service: the start-up banner and refusals of ``parley serve``, explicit
migrations, /readyz, Prometheus /metrics, and the systemd unit and container file in deploy/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from parley.api.serve import mask
from parley.client.http import HubError
from parley.config import Settings
from parley.hub import metrics

from .conftest import PartyHandle, Server, free_port
from .test_screening_hub import HOSPITAL, site

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(180)


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PARLEY_DATABASE_URL"}
    if settings.database_url:
        env["PARLEY_DATABASE_URL"] = settings.database_url
    return env


def parley(settings: Settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(settings),
    )


def refused(ran: subprocess.CompletedProcess[str], *words: str) -> None:
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    for word in words:
        assert word in ran.stderr, ran.stderr


def wait_ready(url: str, proc: subprocess.Popen[str], verify: Any = True) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = proc.stdout.read() if proc.stdout else "(see its log)"
            raise AssertionError(f"parley serve ended: {said}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("parley serve did not become ready within 60 s")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_serve_prints_a_banner_and_refuses_a_port_in_use(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--data",
            str(settings.data_dir),
            "--port",
            f"{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**_env(settings), "COLUMNS": "40"},  # a narrow terminal must not wrap the key
    )
    try:
        wait_ready(url, proc)
        # A second server on the same port: a sentence and exit 1, not uvicorn's errno.
        second = parley(settings, "serve", "--data", str(settings.data_dir), "--port", str(port))
        refused(second, f"port {port} on 127.0.0.1 is in use", "--port")
        assert httpx.get(f"{url}/healthz").status_code == 200  # the first one is untouched
    finally:
        out = stop(proc)
    from parley.hub.setup import verifier_key

    lines = out.splitlines()
    assert f"parley 0.1.0 serving {url}/" in lines
    assert f"origin: {settings.origin}" in lines
    assert f"log key: {verifier_key(settings)}" in lines  # whole, on one line
    if settings.database_url:
        assert f"database: {mask(settings.database_url)}" in lines
    else:
        assert f"data directory: {settings.data_dir.resolve()}" in lines
    assert "plain HTTP, on this machine only" in lines
    assert "members (3): alpha, bravo, charlie" in lines
    assert "notifiers (1): relief" in lines
    assert "observers (1): monitor" in lines
    assert "Traceback" not in out


def test_a_database_password_is_masked() -> None:
    shown = mask("postgresql://parley:s3cret-pw@db.example.org:5432/parley")
    assert "s3cret-pw" not in shown and shown.startswith("postgresql://parley:***@db.example.org")
    assert mask("sqlite:////var/lib/parley/parley.db") == "sqlite:////var/lib/parley/parley.db"


def _revision(settings: Settings, set_to: str | None = None) -> str | None:
    url = settings.database.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if set_to is not None:
                conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": set_to})
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return None if found is None else str(found)
    finally:
        engine.dispose()


def _downgrade(settings: Settings) -> str:
    """Take the database one revision back, as an older parley left it."""
    from alembic import command
    from alembic.config import Config

    from parley.store.db import Store

    store = Store(settings.database)
    config = Config()
    config.set_main_option("script_location", str(ROOT / "src/parley/store/migrations"))
    try:
        with store._writer.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "-1")
    finally:
        store.close()
    older = _revision(settings)
    assert older is not None
    return older


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real `parley` command in this process (its refusals come before any server)."""
    from parley.cli.app import main

    def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
        for name, value in _env(settings).items():
            monkeypatch.setenv(name, value)
        if not settings.database_url:
            monkeypatch.delenv("PARLEY_DATABASE_URL", raising=False)
        monkeypatch.setattr("sys.argv", ["parley", *args])
        with pytest.raises(SystemExit) as ended:
            main()
            raise SystemExit(0)
        got = capsys.readouterr()
        code = ended.value.code
        return subprocess.CompletedProcess(
            args, code if isinstance(code, int) else 1, got.out, got.err
        )

    return run


def test_serve_refuses_a_newer_schema_an_older_one_and_a_missing_hub_key(
    settings: Settings, cli: Any
) -> None:
    data = str(settings.data_dir)
    head = _revision(settings)
    assert head is not None

    _revision(settings, set_to="9999")  # written by a newer parley
    refused(cli(settings, "serve", "--data", data), "schema revision 9999", "newer")
    refused(cli(settings, "serve", "--data", data, "--migrate"), "schema revision 9999")
    refused(cli(settings, "migrate", "--data", data), "schema revision 9999")
    _revision(settings, set_to=head)

    # An older parley's database: serve says how to migrate, and does not by itself.
    older = _downgrade(settings)
    assert older != head
    refused(cli(settings, "serve", "--data", data), f"revision {older}", "parley migrate")
    assert _revision(settings) == older
    migrated = cli(settings, "migrate", "--data", data, "--json")
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["from"] == older
    assert json.loads(migrated.stdout)["to"] == head
    assert _revision(settings) == head
    again = cli(settings, "migrate", "--data", data)
    assert again.returncode == 0 and "up to date" in again.stdout

    key = settings.hub_key_path
    key.rename(key.with_suffix(".away"))
    refused(cli(settings, "serve", "--data", data), f"no hub key at {key}")


def test_serve_migrate_brings_the_schema_up_before_serving(settings: Settings) -> None:
    head = _revision(settings)
    _downgrade(settings)
    from parley.api import serve as server

    server.schema(settings, migrate=True)  # what `serve --migrate` does before binding
    assert _revision(settings) == head
    server.schema(settings, migrate=False)  # and serving then goes ahead


def test_readyz_answers_200_then_503_naming_a_stopped_writer(server: Server) -> None:
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    server.hub.writer.close()
    down = httpx.get(f"{server.url}/readyz")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    body = down.json()
    assert body["status"] == 503 and "log writer" in body["detail"]


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_requests_submissions_are_counted_one_by_one() -> None:
    """A batch or an envelope counts each submission under its own kind and outcome, though the
    labels are looked up once per pair."""

    def count(kind: str, outcome: str) -> float:
        found = metrics.REGISTRY.get_sample_value(
            "parley_submissions_total", {"kind": kind, "outcome": outcome}
        )
        return found or 0.0

    before = {k: count(*k) for k in [("site", "accepted"), ("operation", "accepted")]}
    refused = count("unknown", "refused")
    metrics.submissions(
        [
            ("site", "accepted"),
            (None, "refused"),
            ("site", "accepted"),
            ("operation", "accepted"),
            ("site", "accepted"),
        ]
    )
    assert count("site", "accepted") - before["site", "accepted"] == 3
    assert count("operation", "accepted") - before["operation", "accepted"] == 1
    assert count("unknown", "refused") - refused == 1


def test_metrics_move_with_submissions_refusals_and_streams(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    before = _scrape(server.url)
    with server.client(parties["relief"]) as relief, server.client(parties["bravo"]) as forged:
        relief.submit("site", site(*HOSPITAL), audience=["relief", "alpha"])
        with pytest.raises(HubError, match="signature"):
            # Signed by bravo's key in relief's name: refused by the hub.
            forged.party = "relief"
            relief.submit_signed(forged.sign("site", site(*HOSPITAL)))
    assert httpx.get(f"{server.url}/api/v1/parties/me").status_code == 401
    bad = {"Authorization": "Bearer pt_wrong"}
    assert httpx.get(f"{server.url}/api/v1/parties/me", headers=bad).status_code == 401

    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/alerts/stream",
        headers={"Authorization": f"Bearer {parties['bravo'].token}"},
        timeout=20,
    ) as stream:
        assert stream.status_code == 200, stream.read()
        # Held, not dropped: closing the line iterator would close the stream.
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")  # the stream is open
        during = _scrape(server.url)
        lines.close()
    after = _scrape(server.url)
    deadline = time.monotonic() + 5
    while _value(after, "parley_sse_clients") != _value(before, "parley_sse_clients"):
        assert time.monotonic() < deadline, "the closed stream is still counted"
        time.sleep(0.1)
        after = _scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("parley_submissions_total", kind="site", outcome="accepted") == 1
    assert moved("parley_submissions_total", kind="unknown", outcome="refused") == 1
    assert moved("parley_refused_authentications_total") >= 2
    assert moved("parley_screening_seconds_count") >= 1
    assert _value(during, "parley_sse_clients") == _value(before, "parley_sse_clients") + 1
    assert _value(after, "parley_checkpoint_age_seconds") >= 0
    # Counts only: no party, token or record ever becomes a label or a value's name.
    text = httpx.get(f"{server.url}/metrics").text
    for secret in ("alpha", "relief", parties["relief"].token, "Hospital"):
        assert secret not in text


# -- deploy/ --------------------------------------------------------------------------------


def _unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting outside any section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_systemd_unit_runs_parley_serve_and_verifies(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "parley.service").read_text()
    sections = _unit_sections(text)
    assert set(sections) == {"Unit", "Service", "Install"}
    (start,) = sections["Service"]["ExecStart"]
    argv = start.split()
    assert argv[0].endswith("/parley") and argv[1] == "serve"
    assert "--data" in argv and sections["Service"]["User"] == ["parley"]
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze to verify the unit with")
    # verify checks that ExecStart's program exists: point it at this checkout's parley.
    local = tmp_path / "parley.service"
    local.write_text(text.replace(argv[0], str(Path(sys.executable).parent / "parley")))
    ran = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert "parley.service" not in ran.stderr, ran.stderr  # no warning about the unit itself


DOCKERFILE_INSTRUCTIONS = {
    "FROM",
    "ENV",
    "WORKDIR",
    "COPY",
    "RUN",
    "USER",
    "VOLUME",
    "EXPOSE",
    "HEALTHCHECK",
    "ENTRYPOINT",
    "CMD",
    "ARG",
    "LABEL",
}


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word, rest.strip()))
    return found


def test_the_container_file_parses_and_copies_files_that_exist() -> None:
    found = _instructions((ROOT / "deploy" / "Containerfile").read_text())
    assert found[0][0] == "FROM"
    assert {w for w, _ in found} <= DOCKERFILE_INSTRUCTIONS, found
    for word, rest in found:
        if word == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the checkout"
        if word in ("ENTRYPOINT", "CMD", "VOLUME"):
            json.loads(rest)  # exec form: no shell between the signal and parley
    entry = json.loads(dict(found)["ENTRYPOINT"]) + json.loads(dict(found)["CMD"])
    assert entry[:2] == ["parley", "serve"] and "/data" in entry
    healthcheck = dict(found)["HEALTHCHECK"]
    assert "/readyz" in healthcheck
