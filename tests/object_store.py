"""An S3 stand-in for tests and benchmarks: moto's server, a real process on a free loopback
port, with one bucket. Nothing leaves the machine."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .servers import free_port, stop

__all__ = ["StandIn", "s3_stand_in", "moto_missing"]

BUCKET = "habitus-team"


def moto_missing() -> str | None:
    """Why moto's server cannot run here (None: it can)."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("werkzeug") is None:
        return "moto's server is not installed (pip install 'moto[server]', a dev dependency)"
    return None


@dataclass(frozen=True)
class StandIn:
    """A running S3 stand-in."""

    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes]

    def uri(self, name: str) -> str:
        """An s3:// store URI in the bucket."""
        return f"s3://{self.bucket}/{name}"

    @property
    def options(self) -> dict[str, str]:
        """Storage options a user would give for it: endpoint, keys and region. (`allow_http`
        is left out on purpose: habitus sets it for a plain-http endpoint.)"""
        return {"aws_endpoint": self.endpoint, "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing", "aws_region": "us-east-1"}

    def env(self) -> dict[str, str]:
        """The environment of a habitus process pointed at it."""
        return {"HABITUS_STORAGE_OPTIONS": json.dumps(self.options),
                "AWS_EC2_METADATA_DISABLED": "true"}


def _command(port: int) -> list[str]:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    head = [exe] if exe else [sys.executable, "-m", "moto.server"]
    return [*head, "-H", "127.0.0.1", "-p", str(port)]


@contextmanager
def s3_stand_in(timeout: float = 30.0, log: Path | None = None) -> Iterator[StandIn]:
    """Run moto's server on a free loopback port with one bucket; stopped on exit. `log`
    keeps its request log (one line per request)."""
    port = free_port()
    sink = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(_command(port), stdout=sink, stderr=sink)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto's server exited with {proc.returncode}")
            try:
                urllib.request.urlopen(
                    urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT"), timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not answer in time") from None
                time.sleep(0.1)
        yield StandIn(endpoint, BUCKET, proc)
    finally:
        stop(proc)
        if log is not None:
            sink.close()  # type: ignore[union-attr]
