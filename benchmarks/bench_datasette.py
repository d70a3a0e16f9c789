"""Datasette speed on a large generated archive: the events page, its facets, a filter, every canned query.

    python benchmarks/bench_datasette.py                  # 1,000,000 events (generated and ingested once)
    python benchmarks/bench_datasette.py --events 100000  # a smaller archive
    python benchmarks/bench_datasette.py --db path.db     # an archive you already have

The archive is made with the project's own tools (``okta-calls generate`` then ``okta-calls ingest``) and kept
in benchmarks/out/ for the next run. Requests go through Datasette's own ASGI client with okta-calls' metadata
and settings (``okta_calls.serve.build_datasette``) but Datasette's default time limits (SQL 1 s, facets 200 ms)
and ``trace_debug`` on, so each facet's own SQL time is read from Datasette's trace. Each figure is the median of
``--repeat`` timed requests after one warm-up request.

The events page is measured twice: as served (the default facets from the counts okta-calls keeps,
okta_calls/datasette_plugin.py, made once at start-up and timed here) and with those counts turned off, when
each facet is Datasette's own ``GROUP BY`` (the "GROUP BY" rows: what the page cost before).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from okta_calls.analytics import load_queries
from okta_calls.datasette_plugin import PLUGIN_NAME, wait_until_counted
from okta_calls.serve import build_datasette, build_metadata, database_name, refresh_archive_shape

log = logging.getLogger("bench_datasette")

OUT = ROOT / "benchmarks" / "out"
TARGET_PAGE_MS = 300.0
TARGET_QUERY_MS = 1000.0


@dataclass(slots=True)
class Timing:
    """One measured request."""

    name: str
    path: str
    median_ms: float
    status: int
    target_ms: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.median_ms < self.target_ms and "timed out" not in self.note


def okta_calls(*args: str) -> None:
    """Run the okta-calls CLI of this checkout."""
    command = [sys.executable, "-m", "okta_calls.cli", *args]
    log.info("running %s", " ".join(command))
    subprocess.run(command, check=True, cwd=ROOT)


def ensure_archive(events: int, seed: int, db: Path | None) -> Path:
    """The archive to measure: ``db`` as given, or a generated one of ``events`` events (made once)."""
    if db is not None:
        if not db.is_file():
            raise SystemExit(f"{db}: no such archive")
        return db
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"bench-datasette-{events}.db"
    if path.is_file():
        log.info("reusing %s", path)
        return path
    source = OUT / f"bench-datasette-{events}-seed{seed}.ndjson.gz"
    if not source.is_file():
        okta_calls("generate", str(events), "--seed", str(seed), "-o", str(source))
    started = time.perf_counter()
    okta_calls("ingest", str(path), str(source), "--silent")
    log.info("ingested %d events in %.0f s", events, time.perf_counter() - started)
    return path


class Bench:
    """Timed requests against one Datasette instance on one event loop."""

    def __init__(self, db: Path, repeat: int, *, facet_counts: bool = True) -> None:
        refresh_archive_shape(db)  # as `okta-calls serve` does: current views and schema
        overlay = None if facet_counts else {"plugins": {PLUGIN_NAME: {"facet_counts": False}}}
        # Datasette's default SQL time limit (serve allows the dashboard 4 s): every request must fit in 1 s.
        self.datasette = build_datasette(db, metadata=build_metadata(db, overlay),
                                         settings={"trace_debug": True, "sql_time_limit_ms": 1000})
        self.name = database_name(db)
        self.repeat = repeat
        self.loop = asyncio.new_event_loop()
        started = time.perf_counter()
        self.loop.run_until_complete(self.datasette.invoke_startup())
        if facet_counts and not wait_until_counted(self.datasette, timeout=120):
            raise SystemExit("the default facets were not counted within 120 s")
        self.startup_ms = (time.perf_counter() - started) * 1000

    def request(self, path: str) -> tuple[float, Any]:
        started = time.perf_counter()
        response = self.loop.run_until_complete(self.datasette.client.get(path))
        return (time.perf_counter() - started) * 1000, response

    def measure(self, name: str, path: str, target_ms: float) -> tuple[Timing, Any]:
        self.request(path)  # warm-up: page cache, schema cache
        times, response = [], None
        for _ in range(self.repeat):
            elapsed, response = self.request(path)
            times.append(elapsed)
        return Timing(name, path, statistics.median(times), response.status_code, target_ms), response


def facet_timings(bench: Bench, facets: list[str]) -> list[Timing]:
    """Each default facet's own SQL, timed by Datasette's trace inside an events page request."""
    per_facet: dict[str, list[float]] = {facet: [] for facet in facets}
    timed_out: set[str] = set()
    path = f"/{bench.name}/events.json?_trace=1"
    bench.request(path)
    for _ in range(bench.repeat):
        _elapsed, response = bench.request(path)
        data = response.json()
        present = set(data.get("facet_results", {}))
        timed_out |= set(facets) - present
        for trace in data["_trace"]["traces"]:
            sql = trace.get("sql") or ""
            for facet in facets:
                if sql.startswith(f"select {facet} as value, count(*) as count"):
                    per_facet[facet].append(trace["duration_ms"])
    timings = []
    for facet, values in per_facet.items():
        median = statistics.median(values) if values else float("nan")
        note = "timed out" if facet in timed_out else "SQL inside the page"
        timings.append(Timing(f"facet {facet}", path, median, 200, TARGET_PAGE_MS, note))
    return timings


def counted_facet_timing(bench: Bench) -> Timing:
    """The kept counts' refresh on an events page (all default facets at once), from Datasette's trace."""
    path = f"/{bench.name}/events.json?_trace=1"
    bench.request(path)
    times = []
    for _ in range(bench.repeat):
        _elapsed, response = bench.request(path)
        times += [trace["duration_ms"] for trace in response.json()["_trace"]["traces"]
                  if (trace.get("sql") or "").startswith("-- okta-calls facet counts")]
    median = statistics.median(times) if times else float("nan")
    return Timing("facets, all from kept counts (refresh)", path, median, 200, TARGET_PAGE_MS,
                  "SQL inside the page" if times else "not used")


def run_group_by(db: Path, repeat: int) -> list[Timing]:
    """The events page and each facet with the kept counts off: Datasette's GROUP BY, one facet after another."""
    bench = Bench(db, repeat, facet_counts=False)
    name = bench.name
    facets = bench.datasette.table_metadata(name, "events").get("facets", [])
    results = [
        bench.measure(f"events page ({kind}), GROUP BY facets", path, TARGET_PAGE_MS)[0]
        for kind, path in (("HTML", f"/{name}/events"), ("JSON", f"/{name}/events.json"))
    ]
    for timing in facet_timings(bench, facets):
        timing.name += " (GROUP BY)"
        results.append(timing)
    return results


def run(bench: Bench) -> list[Timing]:
    name = bench.name
    results: list[Timing] = [
        Timing("start-up: first count of the default facets (background)", "", bench.startup_ms, 200, 60_000)
    ]
    for label, path in (
        ("events page (HTML)", f"/{name}/events"),
        ("events page (JSON)", f"/{name}/events.json"),
    ):
        results.append(bench.measure(label, path, TARGET_PAGE_MS)[0])
    results.append(counted_facet_timing(bench))
    results.append(bench.measure("events page without facets (JSON, ?_nofacet=1)", f"/{name}/events.json?_nofacet=1",
                                 TARGET_PAGE_MS)[0])
    event_type = "system.voice.send_phone_verification_call"
    for label, suffix in (("filter event_type, sort published (HTML)", ""), ("filter event_type, sort published (JSON)", ".json")):
        timing, _ = bench.measure(label, f"/{name}/events{suffix}?event_type={event_type}&_sort_desc=published",
                                  TARGET_PAGE_MS)
        results.append(timing)
    for view in ("calls", "card"):
        results.append(bench.measure(f"view {view} (JSON)", f"/{name}/{view}.json", TARGET_QUERY_MS)[0])
    for query in load_queries():
        timing, response = bench.measure(f"query {query}", f"/{name}/{query}.json?_shape=objects", TARGET_QUERY_MS)
        if response.status_code != 200:
            timing.note = response.json().get("error", "")[:60]
        results.append(timing)
    sql = quote("select count(*) from events", safe="")
    results.append(bench.measure("ad hoc SQL count(*)", f"/{name}.json?sql={sql}", TARGET_QUERY_MS)[0])
    return results


def print_table(db: Path, results: list[Timing]) -> None:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    print(f"Datasette on {db.name}: {count:,} events (median of timed requests, target in ms)")
    width = max(len(result.name) for result in results)
    print(f"{'request':<{width}}  {'ms':>8}  {'target':>6}  status")
    for result in results:
        verdict = "ok" if result.ok else "SLOW"
        note = f"  ({result.note})" if result.note else ""
        print(f"{result.name:<{width}}  {result.median_ms:8.1f}  {result.target_ms:6.0f}  {result.status} {verdict}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="measure this archive instead of a generated one")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per measurement (default 5)")
    parser.add_argument("--no-group-by", action="store_true",
                        help="skip the events page with the kept facet counts off (Datasette's GROUP BY)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    db = ensure_archive(args.events, args.seed, args.db)
    bench = Bench(db, args.repeat)
    results = run(bench)
    if not args.no_group_by:
        results += run_group_by(db, args.repeat)
    print_table(db, results)


if __name__ == "__main__":
    main()
