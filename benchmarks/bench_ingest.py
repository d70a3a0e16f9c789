"""Ingest throughput: okta-calls (raw log + every projection) vs sqlite-utils --flatten, on the same file.

    python benchmarks/bench_ingest.py --events 100000 [--events 1000000] [--workdir benchmarks/out]

Generates N events with the project's generator (once; the file is reused), then in ONE run times
``okta-calls ingest`` and ``sqlite-utils insert DB events FILE --nl --flatten --pk uuid --alter`` on it, each
into a fresh database, and prints events/s, their ratio and each command's peak RSS. Compare ratios, not
absolute numbers: the machine (2 cores here) and its disk decide those.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(command: list[str]) -> tuple[float, int]:
    """Run a command; return (wall seconds, peak RSS in MB) of that child alone."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss // 1024


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, action="append", help="event counts (repeatable); default 100000")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--skip-sqlite-utils", action="store_true", help="time okta-calls alone")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {__import__('sqlite3').sqlite_version}")
    print(f"{'events':>10} {'tool':<26} {'seconds':>8} {'events/s':>10} {'peak RSS':>9}")
    for count in args.events or [100_000]:
        source = args.workdir / f"events-{count}.ndjson"
        if not source.exists():
            print(f"generating {count:,} events -> {source}", file=sys.stderr)
            with open(source, "wb") as handle:
                subprocess.run([str(BIN / "okta-calls"), "generate", str(count), "--seed", "7"], stdout=handle, check=True)
        ours_s, ours_rss = run([str(BIN / "okta-calls"), "ingest", str(fresh(args.workdir / "okta-calls.db")),
                                str(source), "--silent"])
        print(f"{count:>10,} {'okta-calls ingest':<26} {ours_s:>8.1f} {count / ours_s:>10,.0f} {ours_rss:>7} MB")
        if args.skip_sqlite_utils:
            continue
        theirs_s, theirs_rss = run([str(BIN / "sqlite-utils"), "insert", str(fresh(args.workdir / "sqlite-utils.db")),
                                    "events", str(source), "--nl", "--flatten", "--pk", "uuid", "--alter"])
        print(f"{count:>10,} {'sqlite-utils --flatten':<26} {theirs_s:>8.1f} {count / theirs_s:>10,.0f} {theirs_rss:>7} MB")
        print(f"{count:>10,} {'ratio (okta-calls / s-u)':<26} {'':>8} {theirs_s / ours_s:>10.2f}x")
    for name in ("okta-calls.db", "sqlite-utils.db"):
        fresh(args.workdir / name)
    shutil.rmtree(args.workdir / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
