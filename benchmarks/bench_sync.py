"""API sync throughput against a loopback server that behaves as Okta documents (tests/fake_okta.py).

    python benchmarks/bench_sync.py [--events 50000] [--latency 0 --latency 0.2]

For each latency (seconds added to every page), starts the fake Okta in its own process, then times
(1) the HTTP client alone (``OktaClient.pages``: fetch, rate-limit bookkeeping, decode) and (2) a full
``okta-calls ingest DB --org ...`` into a fresh archive (raw log + projections + cursor per page), and prints
events/s. Okta's own ceiling is about 2,000 events/s (120 requests/min x 1,000 events per page).
Run it from the repository root (it imports tests.fake_okta).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"


def start_server(events: int, latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_okta", "--events", str(events), "--latency", str(latency),
         "--rate-limit", "100000", "--token", TOKEN],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def client_only(base_url: str) -> tuple[int, float]:
    sys.path.insert(0, str(ROOT))
    from okta_calls.auth import SSWSAuth
    from okta_calls.sources.okta_api import OktaClient, default_since

    started = time.perf_counter()
    count = 0
    with OktaClient(base_url, SSWSAuth(TOKEN)) as client:
        for page in client.pages({"since": default_since(), "filter": None, "limit": 1000}):
            count += len(page.items)
    return count, time.perf_counter() - started


def full_sync(base_url: str, workdir: Path) -> tuple[int, float]:
    db = workdir / "bench-sync.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = dict(os.environ, OKTA_API_TOKEN=TOKEN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "okta_calls.cli", "ingest", str(db), "--org", base_url, "--all-events",
                    "--silent"], check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    elapsed = time.perf_counter() - started
    import sqlite3

    with sqlite3.connect(db) as conn:
        count = conn.execute("SELECT count(*) FROM raw_events").fetchone()[0]
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--latency", type=float, action="append", help="seconds per page (repeatable); default 0 and 0.2")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'latency':>8} {'what':<34} {'events':>8} {'seconds':>8} {'events/s':>10}")
    for latency in args.latency or [0.0, 0.2]:
        server, base_url = start_server(args.events, latency)
        try:
            count, seconds = client_only(base_url)
            print(f"{latency:>7.1f}s {'client only (fetch + decode)':<34} {count:>8,} {seconds:>8.1f} {count / seconds:>10,.0f}")
            count, seconds = full_sync(base_url, args.workdir)
            print(f"{latency:>7.1f}s {'okta-calls ingest --org (archive)':<34} {count:>8,} {seconds:>8.1f} {count / seconds:>10,.0f}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
