"""How long ``reconciler plan`` takes to fail against an API it cannot reach.

Three addresses, each planned by the real console script in a fresh process with the default
retry policy (connect budget 10 s, 4 s per connection attempt):

- refused: a loopback port nothing listens on;
- unresolvable: a host under ``.invalid`` (no DNS answer, RFC 2606);
- timeout: a loopback listener whose backlog is full, so that connections are never accepted.

Prints the seconds to the error and its attempts. Target: every one under 15 s.

    python bench/unreachable.py
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MANIFEST = "provider: respan\ncustomers:\n  - customer_identifier: acme\n    name: Acme\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _full_listener() -> tuple[socket.socket, list[socket.socket], int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # it stays pending: that is the point
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    return listener, fillers, port


def _plan(url: str, directory: Path) -> tuple[float, str]:
    env = {**os.environ, "RESPAN_BASE_URL": url, "RESPAN_API_KEY": "rsp_bench_key"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "customers.yaml"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    attempts = re.search(r"gave up after (\d+) attempts", done.stderr)
    return elapsed, attempts.group(1) if attempts else "1"


def main() -> None:
    listener, fillers, full_port = _full_listener()
    cases = {
        "refused": f"http://127.0.0.1:{_free_port()}",
        "unresolvable": "https://no-such-host.invalid",
        "timeout": f"http://127.0.0.1:{full_port}",
    }
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        (directory / "customers.yaml").write_text(MANIFEST, encoding="utf-8")
        for name, url in cases.items():
            elapsed, attempts = _plan(url, directory)
            print(f"{name:13} {elapsed:5.1f} s to the error, {attempts} attempt(s)")
    for filler in fillers:
        filler.close()
    listener.close()


if __name__ == "__main__":
    main()
