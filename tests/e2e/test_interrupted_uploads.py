"""What an upload killed mid-write leaves behind is removed when the server starts again."""

from __future__ import annotations

import os
import time
from pathlib import Path

from modelcatalog.storage.local import TEMP_PREFIX
from support.servers import run_server


def test_server_start_removes_stale_upload_leftovers_and_keeps_fresh_ones(tmp_path: Path) -> None:
    folder = tmp_path / "artifacts" / ("a" * 32) / "1"
    folder.mkdir(parents=True)
    stale = folder / f"{TEMP_PREFIX}stale"
    fresh = folder / f"{TEMP_PREFIX}fresh"
    kept = folder / "MLmodel"
    for path in (stale, fresh, kept):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    os.utime(kept, (two_hours_ago, two_hours_ago))

    with run_server(tmp_path):
        deadline = time.monotonic() + 30
        while stale.exists():
            assert time.monotonic() < deadline, "the stale leftover was not removed"
            time.sleep(0.05)
    assert fresh.exists(), "an upload that may still be in progress was removed"
    assert kept.read_bytes() == b"partial"
