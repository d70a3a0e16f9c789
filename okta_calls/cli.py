"""The ``okta-calls`` command line: click commands only. Parse, call the library, print.

Exit codes (documented in the README):
  0  everything was archived
  1  a fatal error: the archive could not be opened or written, the API refused, ...
  2  usage error (bad options)
  3  finished, but some events were rejected (see the ``rejects`` table)
  4  finished, but some input files could not be read (the others were archived)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from tqdm import tqdm

from . import __version__
from .archive import Archive, ArchiveError
from .model import BatchResult

log = logging.getLogger("okta_calls")

EXIT_OK, EXIT_FATAL, EXIT_REJECTS, EXIT_FILES = 0, 1, 3, 4


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="okta-calls: %(levelname)s: %(message)s", stream=sys.stderr)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="okta-calls")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Keep, search and analyse the phone calls and SMS that Okta places to verify users."""
    _setup_logging(verbose)


def progress_bar(silent: bool, **kwargs: Any) -> tqdm:  # type: ignore[type-arg]
    """A progress bar on a terminal's stderr; nothing when ``silent`` or piped."""
    return tqdm(disable=silent or not sys.stderr.isatty(), file=sys.stderr, dynamic_ncols=True, **kwargs)


@contextmanager
def open_archive(db_path: str, *, rebuild_stale: bool = True) -> Iterator[Archive]:
    """Open the archive or exit with a one-line error; rebuild projections left by an older version."""
    try:
        archive = Archive(db_path)
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    try:
        if rebuild_stale and archive.projections_stale:
            click.echo(
                f"{db_path}: the projections were built by another version of okta-calls; rebuilding them "
                "from raw_events...",
                err=True,
            )
            archive.rebuild()
        yield archive
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    finally:
        archive.close()


def _summary(result: BatchResult, run_id: int) -> str:
    return (
        f"run {run_id}: {result.seen:,} seen, {result.inserted:,} new, "
        f"{result.duplicates:,} duplicates, {result.rejected:,} rejected"
    )


@cli.command()
@click.argument("db_path", type=click.Path(dir_okay=False))
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000),
              help="Events per transaction.")
@click.option("--silent", is_flag=True, help="No progress bar; only the summary line.")
def ingest(db_path: str, paths: tuple[str, ...], batch_size: int, silent: bool) -> None:
    """Archive Okta System Log events into DB_PATH.

    PATHS are files of NDJSON, JSON arrays, single events or Event Hook deliveries, optionally gzipped;
    '-' reads stdin. The format is detected from the content.
    """
    from .ingest import ingest_paths

    if not paths:
        raise click.UsageError("give one or more files to read ('-' for stdin)")
    with open_archive(db_path) as archive, progress_bar(silent, unit=" events", desc="ingest") as bar:
        summary = ingest_paths(
            archive,
            paths,
            batch_size=batch_size,
            on_progress=lambda result: bar.update(result.seen),
        )
    click.echo(_summary(summary.result, summary.run_id))
    for error in summary.file_errors:
        click.echo(f"error: {error}", err=True)
    if summary.file_errors:
        sys.exit(EXIT_FILES)
    if summary.result.rejected:
        click.echo(
            f"{summary.result.rejected:,} events were rejected: "
            f"SELECT * FROM rejects WHERE ingest_run = {summary.run_id}",
            err=True,
        )
        sys.exit(EXIT_REJECTS)


@cli.command()
@click.argument("db_path", type=click.Path(dir_okay=False, exists=True))
@click.option("--silent", is_flag=True, help="No progress bar.")
def rebuild(db_path: str, silent: bool) -> None:
    """Drop every projection table and derive it again from raw_events."""
    with open_archive(db_path, rebuild_stale=False) as archive:
        total = archive.conn.execute("SELECT count(*) FROM raw_events").fetchone()[0]
        with progress_bar(silent, total=total, unit=" events", desc="rebuild") as bar:
            count = archive.rebuild(on_progress=bar.update)
        archive.checkpoint()
    click.echo(f"rebuilt the projections of {count:,} events")


@cli.command()
@click.argument("count", type=click.IntRange(0))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              show_default=True, help="Where to write NDJSON ('-' is stdout; a name ending .gz is gzipped).")
@click.option("--seed", default=0, show_default=True, help="Random seed: the same seed gives the same events.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="Spread the events over this many days, ending now.")
def generate(count: int, output: str, seed: int, days: int) -> None:
    """Write COUNT realistic, synthetic Okta telephony LogEvents as NDJSON (demo data, benchmarks)."""
    import gzip

    from .generate import generate_events, write_ndjson

    events = generate_events(count, seed=seed, days=days)
    if output == "-":
        write_ndjson(events, sys.stdout.buffer)
    elif output.endswith(".gz"):
        with gzip.open(output, "wb", compresslevel=5) as handle:
            write_ndjson(events, handle)
    else:
        with open(output, "wb") as handle:
            write_ndjson(events, handle)


@cli.command()
@click.argument("db_path", type=click.Path(dir_okay=False, exists=True))
def status(db_path: str) -> None:
    """Show what the archive holds: counts, projection version, recent runs, API cursors."""
    from .flatten import PROJECTION_VERSION

    with open_archive(db_path, rebuild_stale=False) as archive:
        for table, count in archive.counts().items():
            click.echo(f"{table:>12}: {count:,}")
        stored = archive.meta("projection_version")
        state = "current" if stored == str(PROJECTION_VERSION) else f"STALE: run `okta-calls rebuild {db_path}`"
        click.echo(f"projections: version {stored} ({state})")
        for row in archive.conn.execute(
            "SELECT id, started_at, status, source_kind, seen, inserted, duplicates, rejected "
            "FROM ingest_runs ORDER BY id DESC LIMIT 5"
        ):
            click.echo("run {}: {} {} {} seen={} new={} dup={} rejected={}".format(*row))
        for org, query, updated in archive.conn.execute("SELECT org, query, updated_at FROM sync_state"):
            click.echo(f"cursor: {org} [{query}] saved {updated}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
