"""The parties stamp: a running hub learns at its next request that `parley party ...` changed
a party in another process, from a file both map (issue 17: no system call per request)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from parley.hub.parties import STAMP, Stamp, touch


def test_a_touch_from_another_process_is_seen_once(tmp_path: Path) -> None:
    stamp = Stamp(tmp_path)
    assert not stamp.changed()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; from parley.hub.parties import touch; "
            f"touch(Path({str(tmp_path)!r}))",
        ],
        check=True,
    )
    assert stamp.changed()
    assert not stamp.changed()
    touch(tmp_path)
    assert stamp.changed()


def test_a_stamp_written_by_an_older_hub_is_read(tmp_path: Path) -> None:
    (tmp_path / STAMP).write_text("0123456789abcdef\n")  # what touch() wrote before
    stamp = Stamp(tmp_path)
    assert not stamp.changed()
    touch(tmp_path)
    assert stamp.changed()


def test_without_a_usable_file_the_inode_and_time_are_compared(tmp_path: Path) -> None:
    missing = tmp_path / "not-a-directory-yet"
    stamp = Stamp(missing)  # cannot create the file: falls back to stat()
    assert not stamp.changed()
    missing.mkdir()
    touch(missing)
    assert stamp.changed()


def _mapped(path: Path) -> bool:
    return str(path) in Path("/proc/self/maps").read_text()


def test_a_closed_hub_releases_the_mapping_and_still_sees_a_touch(tmp_path: Path) -> None:
    stamp = Stamp(tmp_path)
    assert _mapped(tmp_path / STAMP)
    stamp.close()
    assert not _mapped(tmp_path / STAMP)
    stamp.changed()  # the first check after closing compares inode and time instead
    assert not stamp.changed()
    time.sleep(0.05)  # past the file system's timestamp granularity
    touch(tmp_path)
    assert stamp.changed()
