"""A real S3-compatible server for tests: moto's standalone server as a subprocess on a free port.

`s3_server` (a context manager) yields an `S3Server` with the endpoint, the fsspec options a deployment
would put in FRAGILITY_ARTIFACTS_OPTIONS, and `bucket(name)`, which creates a bucket through s3fs (the
client the service itself uses).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.processes import stop_process

ACCESS_KEY, SECRET_KEY = "fragility-test-key", "fragility-test-secret"


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    """A running moto server: its endpoint and the fsspec options that reach it."""

    endpoint: str
    process: subprocess.Popen

    @property
    def options(self) -> dict:
        """Return the s3fs options of this server (credentials and endpoint), as FRAGILITY_ARTIFACTS_OPTIONS."""
        return {"key": ACCESS_KEY, "secret": SECRET_KEY,
                "client_kwargs": {"endpoint_url": self.endpoint}}

    def filesystem(self):
        """Return an s3fs filesystem on this server (no listing cache, so deletions are seen at once)."""
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False, **self.options)

    def bucket(self, name: str) -> str:
        """Return the URL s3://`name` after creating that bucket."""
        self.filesystem().mkdir(name)
        return f"s3://{name}"


@contextmanager
def s3_server(log: Path) -> Iterator[S3Server]:
    """Yield a moto S3 server started on a free port (output in `log`); stopped afterwards."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited ({process.returncode}): {log.read_text()[-2000:]}")
            try:
                httpx.get(endpoint, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not answer within 60 s: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield S3Server(endpoint, process)
    finally:
        stop_process(process, grace=10)
