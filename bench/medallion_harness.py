"""Shared benchmark harness: the baseline medallion server, subprocesses and an HTTP load generator.

medallion 3.0.0 (the OASIS TAXII 2.1 reference server) is the baseline parley's benchmarks compare
against. It is never a dependency of parley: it lives only in ``bench/.venv-medallion``, which
:func:`ensure_venv` makes with ``python3 -m venv`` + pip on first use, so neither the project's
virtualenv nor its constraints ever see Flask or medallion.

The load generator (:func:`fire`) sends pre-built request bodies with asyncio + httpx over
keep-alive connections, so what is timed is the server, not JSON encoding or signing in the
client; it reports the client's own CPU and the whole machine's so a reader can tell when the
client, not the server, was the limit.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
MEDALLION_REQUIREMENT = "medallion==3.0.0"
TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
API_ROOT = "bench"
COLLECTION_ID = "6b4ab4a4-5a3f-4c55-9d52-0b0e6d8d1a10"
# A loopback-only server that lives for one run: a fixed password is as good as a random one.
USER = "bench"
PASSWORD = "bench-password"

if importlib.util.find_spec("sniffio") is None:
    # httpcore runs `import sniffio` several times per request; when it is not installed every
    # attempt searches sys.path again (about 0.15 ms each: a quarter of the client's CPU in a
    # trial). None in sys.modules makes the miss immediate, with the same outcome: asyncio.
    sys.modules["sniffio"] = None  # type: ignore[assignment]


class BenchFailure(Exception):
    """A request failed or a server stored something other than what was sent."""


# -- environments and processes --------------------------------------------------------------


def ensure_venv(name: str, requirements: Sequence[str]) -> Path:
    """A virtualenv ``bench/<name>`` holding ``requirements``, made on first use.

    A marker file records what was installed, so a changed requirement rebuilds the venv
    instead of silently benchmarking an old version.
    """
    venv = BENCH_DIR / name
    marker = venv / ".bench-requirements"
    wanted = "\n".join(requirements) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return venv
    python = shutil.which("python3") or sys.executable
    print(f"making {venv} with {' '.join(requirements)} (first use only)", file=sys.stderr)
    _run([python, "-m", "venv", "--clear", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements])
    marker.write_text(wanted)
    return venv


def _run(command: Sequence[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchFailure(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Poll ``url`` until it answers 200; fail early, with the log, if the process dies."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise BenchFailure(
                    f"{url}: the server exited ({process.returncode}):\n{log_tail(log)}"
                )
            try:
                if client.get(url, headers=headers).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchFailure(f"{url}: not up after {timeout_s:.0f} s:\n{log_tail(log)}")
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """SIGTERM, so servers shut down cleanly (parley's writer drains); SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces; the numeric fields follow its ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(threshold: float = 0.15, timeout_s: float = 30.0) -> float:
    """Wait until the cores are mostly idle; answer the busy share last seen (0..1).

    Other people's test runs share this machine, and so does a server still exiting from the run
    before; starting while they burn CPU would time them too. After ``timeout_s`` the run goes
    ahead anyway, and the share it returns tells the reader that run was noisy.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        busy_before, total_before = machine_jiffies()
        time.sleep(0.5)
        busy_after, total_after = machine_jiffies()
        busy = (busy_after - busy_before) / max(1, total_after - total_before)
        if busy <= threshold or time.monotonic() > deadline:
            return busy


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


# -- medallion ---------------------------------------------------------------------------------


@dataclass
class Medallion:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def objects_url(self) -> str:
        return f"{self.url}/{API_ROOT}/collections/{COLLECTION_ID}/objects/"

    @property
    def headers(self) -> dict[str, str]:
        """Headers for every TAXII request; Basic auth is computed once, not per request."""
        credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return {
            "Accept": TAXII_MEDIA_TYPE,
            "Content-Type": TAXII_MEDIA_TYPE,
            "Authorization": f"Basic {credentials}",
        }

    def stored_ids(self) -> list[str]:
        """Every object id in the collection (max_page_size is set so one page holds all)."""
        with httpx.Client(trust_env=False, timeout=120.0) as client:
            response = client.get(self.objects_url, headers=self.headers)
        if response.status_code != 200:
            raise BenchFailure(f"medallion GET objects: {response.status_code} {response.text}")
        body = response.json()
        if body.get("more"):
            raise BenchFailure("medallion paged its answer: raise max_page_size")
        return [obj["id"] for obj in body.get("objects", [])]


def medallion_config(data_file: Path, max_page_size: int) -> dict[str, Any]:
    """medallion 3.0.0's configuration: memory backend, one user, the TAXII page size."""
    return {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data_file),
            # A paged read's "next" expires this long after its first page (default 30 s, not
            # renewed by use): at 10,000 objects medallion's later pages took longer than that
            # here, and it answered 400 "'next' not valid" halfway through its own read.
            "session_timeout": 3600,
        },
        "users": {USER: PASSWORD},
        "taxii": {"max_page_size": max_page_size},
    }


def medallion_data(port: int) -> dict[str, Any]:
    """The memory backend's data file: a discovery document, one API root, one collection."""
    root = f"http://127.0.0.1:{port}/{API_ROOT}/"
    return {
        "/discovery": {
            "title": "parley benchmark baseline",
            "description": "medallion's memory backend, one writable collection",
            "default": root,
            "api_roots": [root],
        },
        API_ROOT: {
            "information": {
                "title": "benchmark",
                "description": "objects posted by the benchmark",
                "versions": [TAXII_MEDIA_TYPE],
                # Large enough for any envelope the benchmarks send (medallion answers 413 above).
                "max_content_length": 256 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION_ID,
                    "title": "benchmark collection",
                    "can_read": True,
                    "can_write": True,
                    "media_types": [STIX_MEDIA_TYPE],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }


@contextmanager
def medallion(venv: Path, *, max_page_size: int = 100) -> Iterator[Medallion]:
    """A fresh medallion (empty memory backend) on a loopback port, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="medallion-bench-") as tmp:
        port = free_port()
        data_file = Path(tmp) / "data.json"
        config_file = Path(tmp) / "config.json"
        log = Path(tmp) / "medallion.log"
        data_file.write_text(json.dumps(medallion_data(port)))
        config_file.write_text(json.dumps(medallion_config(data_file, max_page_size)))
        with log.open("wb") as log_file:
            # medallion's own CLI, run as its README says: Flask's threaded development server
            # (Werkzeug), which answers "Connection: close", so every request is a new connection.
            process = subprocess.Popen(
                [
                    str(venv / "bin" / "medallion"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    str(config_file),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=tmp,
            )
        server = Medallion(f"http://127.0.0.1:{port}", process, log)
        try:
            wait_until_up(f"{server.url}/taxii2/", process, log, headers=server.headers)
            yield server
        finally:
            stop(process)


# What producers' exports (MISP, OpenCTI) put on nearly every object: the author's identity and
# a TLP marking (the TLP:GREEN marking definition of STIX 2.1, section 7.2.1.4).
AUTHOR = "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"


def stix_indicators(n: int, *, refs: bool = False) -> list[dict[str, Any]]:
    """``n`` distinct, valid STIX 2.1 indicators (about the size of a parley site body); with
    ``refs``, each names an author and a marking, as exported intelligence usually does."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    named = {"created_by_ref": AUTHOR, "object_marking_refs": [TLP_GREEN]} if refs else {}
    return [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created": now,
            "modified": now,
            "name": f"Benchmark indicator {i}",
            "pattern": f"[ipv4-addr:value = '10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}']",
            "pattern_type": "stix",
            "valid_from": now,
            **named,
        }
        for i in range(n)
    ]


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def envelopes(objects: Sequence[dict[str, Any]], size: int) -> list[bytes]:
    """TAXII 2.1 envelopes of ``size`` objects, serialised before any timing starts."""
    return [json.dumps({"objects": list(chunk)}).encode() for chunk in chunks(objects, size)]


# -- load generator ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass
class Fired:
    elapsed_s: float
    client_cpu_s: float  # this process, i.e. the load generator alone
    server_cpu_s: float  # the watched server processes, all threads
    machine_busy: float  # share of all cores busy while timing, 0..1
    background: float  # share of all cores busy just before, with nothing sent yet
    statuses: list[int]
    bodies: list[bytes]
    errors: list[str] = field(default_factory=list)

    def failures(self, expected: int) -> list[str]:
        """Every transport error and every answer that is not ``expected``, described."""
        bad = [
            f"HTTP {status}: {body[:300].decode(errors='replace')}"
            for status, body in zip(self.statuses, self.bodies, strict=True)
            if status != expected and status != 0
        ]
        return self.errors + bad


def fire(
    posts: Sequence[Post],
    *,
    concurrency: int,
    warmup_urls: Sequence[str] = (),
    warmup_headers: Mapping[str, str] | None = None,
    server_pids: Sequence[int] = (),
    during: AbstractContextManager[Any] | None = None,
    quiet_wait_s: float = 30.0,
) -> Fired:
    """POST every body with at most ``concurrency`` in flight; time from first send to last answer.

    ``warmup_urls`` are fetched (GET) before timing so every connection is already open; they
    should be cheap and store nothing. ``during`` (a profiler, say) is entered just before the
    clock starts and left just after it stops.
    """
    background = wait_for_quiet(timeout_s=quiet_wait_s)
    fired = asyncio.run(
        _fire(posts, concurrency, warmup_urls, warmup_headers, server_pids, during or nullcontext())
    )
    fired.background = background
    return fired


async def _fire(
    posts: Sequence[Post],
    concurrency: int,
    warmup_urls: Sequence[str],
    warmup_headers: Mapping[str, str] | None,
    server_pids: Sequence[int],
    during: AbstractContextManager[Any],
) -> Fired:
    statuses = [0] * len(posts)
    bodies = [b""] * len(posts)
    errors: list[str] = []
    workers = min(concurrency, len(posts))
    # One client with one keep-alive connection per worker: httpcore's shared pool rescans every
    # connection for every request, which at 32 connections costs the client more CPU than the
    # server spends. The TLS context is never used on http:// but is built per client: share it.
    tls = ssl.create_default_context()
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(limits=one, timeout=300.0, trust_env=False, verify=tls)
        for _ in range(workers)
    ]
    try:
        if warmup_urls:
            await asyncio.gather(
                *(
                    c.get(warmup_urls[i % len(warmup_urls)], headers=warmup_headers)
                    for i, c in enumerate(clients)
                )
            )
        todo = iter(enumerate(posts))

        async def worker(client: httpx.AsyncClient) -> None:
            # One shared iterator: each worker takes the next post as soon as it is free.
            for i, post in todo:
                try:
                    response = await client.post(post.url, content=post.body, headers=post.headers)
                except httpx.HTTPError as exc:
                    errors.append(f"{post.url}: {exc!r}")
                    continue
                statuses[i] = response.status_code
                bodies[i] = response.content

        with during:
            server_before = sum(cpu_seconds(pid) for pid in server_pids)
            busy_before, total_before = machine_jiffies()
            cpu_before = time.process_time()
            start = time.perf_counter()
            await asyncio.gather(*(worker(c) for c in clients))
            elapsed = time.perf_counter() - start
            client_cpu = time.process_time() - cpu_before
            busy_after, total_after = machine_jiffies()
            server_cpu = sum(cpu_seconds(pid) for pid in server_pids) - server_before
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    machine = (busy_after - busy_before) / max(1, total_after - total_before)
    return Fired(elapsed, client_cpu, server_cpu, machine, 0.0, statuses, bodies, errors)
