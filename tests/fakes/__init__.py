"""Local stand-ins for remote services the tests cannot run for real, and builders of real
source registries (MLflow itself, on SQLite and local files) for the migration tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


@contextmanager
def serve_in_thread(app: object, port: int) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1:`port` in a background thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the fake server on port {port} did not start")
        time.sleep(0.02)  # poll interval while uvicorn binds its socket
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
