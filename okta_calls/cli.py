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
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from tqdm import tqdm

from . import __version__, cli_okta, cli_redact
from .archive import Archive, ArchiveError
from .cli_okta import okta_client, okta_options
from .model import BatchResult
from .redact import Redactor
from .redaction import RedactionError

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
    except (ArchiveError, RedactionError) as error:
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
@click.option("--batch-size", default=20_000, show_default=True, type=click.IntRange(1, 100_000),
              help="Files: events per batch. A large file (16 MB or more) is committed one batch at a time; "
                   "smaller inputs and stdin are read in batches of at most 5,000.")
@click.option("--commit-interval", default=1.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Files under 16 MB and stdin: group batches into one commit at most this often, in seconds "
                   "(0: every batch).")
@click.option("--readers", type=click.IntRange(1, 16), metavar="N",
              help="Files: reader processes for a large import (default: one per core, at most 3).")
@click.option("--silent", is_flag=True, help="No progress bar; only the summary line.")
@cli_redact.redact_options
@okta_options
@click.option("--event-type", "event_types", multiple=True, metavar="TYPE",
              help="API: only this eventType (repeatable). Default: every system.voice.* and system.sms.* event.")
@click.option("--filter", "filter_expr", metavar="SCIM", help="API: any System Log filter expression.")
@click.option("--all-events", is_flag=True, help="API: no filter at all.")
@click.option("--since", metavar="TIME", help="API: start of a first run or a backfill (ISO 8601, or 7d/12h). "
              "Default: 90 days back. A polling run that has a saved cursor resumes from it instead.")
@click.option("--until", metavar="TIME", help="API: with --since, a bounded backfill that leaves the cursor alone.")
@click.option("--follow", is_flag=True, help="API: keep polling; Ctrl-C or SIGTERM ends after the current page.")
@click.option("--interval", default=15.0, show_default=True, type=click.FloatRange(min=1.0),
              help="API: seconds to wait after a short page with --follow.")
@click.option("--max-share", default=0.8, show_default=True, type=click.FloatRange(0.01, 1.0),
              help="API: never use more than this share of the org's per-minute rate limit bucket.")
@click.option("--retry-budget", default=300.0, show_default=True, type=click.FloatRange(min=0),
              help="API: seconds to keep retrying 5xx/timeouts/connection errors before giving up.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1000),
              help="API: events per page.")
def ingest(db_path: str, paths: tuple[str, ...], batch_size: int, commit_interval: float, readers: int | None,
           silent: bool, redact: bool, redact_key_file: str | None, **api: Any) -> None:
    """Archive Okta System Log events into DB_PATH, from files or from the Okta API.

    With PATHS: files of NDJSON, JSON arrays, single events or Event Hook deliveries, optionally gzipped;
    '-' reads stdin. The format is detected from the content.

    Without PATHS: pull from {org}/api/v1/logs, following Okta's `next` links. Each page's events and its
    `next` link are committed together, so a run can be killed at any moment and simply re-run.
    """
    redactor = cli_redact.redactor_for(db_path, redact, redact_key_file)
    if paths:
        _ingest_files(db_path, paths, batch_size=batch_size, commit_seconds=commit_interval, readers=readers,
                      silent=silent, redactor=redactor)
        return
    if not (api["org"] or api["token"] or api["client_id"] or os.path.exists(api["auth_path"])):
        raise click.UsageError(
            "give files to read ('-' for stdin), or an Okta org to pull from (--org / OKTA_ORG_URL with "
            "--token, a service app, or an auth.json from `okta-calls auth`)"
        )
    _ingest_api(db_path, silent=silent, redactor=redactor, **api)


def _ingest_files(db_path: str, paths: tuple[str, ...], *, batch_size: int, commit_seconds: float,
                  readers: int | None, silent: bool, redactor: Redactor | None) -> None:
    from .ingest import ingest_paths

    with open_archive(db_path) as archive, progress_bar(silent, unit=" events", desc="ingest") as bar:
        summary = ingest_paths(
            archive,
            paths,
            batch_size=batch_size,
            on_progress=lambda result: bar.update(result.seen),
            commit_seconds=commit_seconds,
            readers=readers,
            redactor=redactor,
        )
    click.echo(_summary(summary.result, summary.run_id))
    for error in summary.file_errors:
        click.echo(f"error: {error}", err=True)
    if summary.file_errors:
        sys.exit(EXIT_FILES)
    _exit_on_rejects(summary.result, summary.run_id)


def _exit_on_rejects(result: BatchResult, run_id: int) -> None:
    if result.rejected:
        click.echo(f"{result.rejected:,} events were rejected: SELECT * FROM rejects WHERE ingest_run = {run_id}",
                   err=True)
        sys.exit(EXIT_REJECTS)


def _ingest_api(db_path: str, *, silent: bool, redactor: Redactor | None, **api: Any) -> None:
    import threading

    from .sources.okta_api import OktaError, OktaUnavailable, choose_filter
    from .sync import parse_time_option, stop_on_signals, sync

    try:
        filter_expr = choose_filter(list(api["event_types"]) or None, api["filter_expr"], api["all_events"])
        since = parse_time_option(api["since"]) if api["since"] else None
        until = parse_time_option(api["until"]) if api["until"] else None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if until is not None and since is None:
        raise click.UsageError("--until needs --since (a bounded backfill)")
    if until is not None and api["follow"]:
        raise click.UsageError("--follow polls; it cannot be combined with --until")

    stop = threading.Event()
    with progress_bar(silent, unit=" events", desc="okta") as bar:
        def on_wait(seconds: float, reason: str) -> None:
            if not silent:
                bar.write(f"okta-calls: waiting {seconds:.0f} s: {reason}", file=sys.stderr)

        def on_progress(progress: Any) -> None:
            bar.update(progress.page_events)
            state = "caught up, next poll in {:.0f} s".format(progress.next_poll_in_s) if progress.caught_up else ""
            bar.set_postfix_str(f"{progress.pages:,} pages, {progress.events_per_s:,.0f} events/s {state}".strip())

        client = okta_client(api, max_share=api["max_share"], retry_budget_s=api["retry_budget"],
                              stop_event=stop, on_wait=on_wait)
        with client, open_archive(db_path) as archive, stop_on_signals(
            stop, on_signal=lambda name: bar.write(f"okta-calls: {name}: stopping after the current page",
                                                   file=sys.stderr)
        ):
            try:
                result = sync(archive, client, filter=filter_expr, since=since, until=until, limit=api["limit"],
                              follow=api["follow"], interval=api["interval"], stop_event=stop,
                              on_progress=on_progress, redactor=redactor)
            except OktaUnavailable as error:
                raise click.ClickException(f"{error}; the cursor is at the last saved page: re-run to resume") \
                    from None
            except OktaError as error:
                raise click.ClickException(str(error)) from None
    click.echo(f"{_summary(result.result, result.run_id)}; {result.pages:,} pages, "
               f"{result.events_per_s:,.0f} events/s" + (" (interrupted; cursor saved)"
                                                         if result.status == "interrupted" else ""))
    _exit_on_rejects(result.result, result.run_id)


@cli.command()
@click.argument("db_path", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep loopback and put a TLS reverse proxy in front.")
@click.option("--port", default=8002, show_default=True, type=click.IntRange(1, 65535))
@click.option("--path", "hook_path", default="/okta/event-hook", show_default=True,
              help="The hook's URL path (the only path served besides GET /health).")
@click.option("--secret-file", type=click.Path(dir_okay=False, exists=True),
              help="File holding the hook secret (default: $OKTA_HOOK_SECRET).")
@click.option("--auth-header", default="Authorization", show_default=True,
              help="Header Okta sends the secret in (the hook's 'Authentication field').")
@click.option("--max-body", default=10 * 1024 * 1024, show_default=True, type=click.IntRange(1),
              help="Largest request body in bytes; bigger ones get 413.")
@cli_redact.redact_options
def receive(db_path: str, host: str, port: int, hook_path: str, secret_file: str | None,
            auth_header: str, max_body: int, redact: bool, redact_key_file: str | None) -> None:
    """Receive Okta Event Hook deliveries into DB_PATH, committing each before answering 200.

    Serves only the hook path and GET /health (never the Datasette UI). The secret comes from
    OKTA_HOOK_SECRET or --secret-file; without one the command does not start.
    """
    from .receiver import serve_hooks

    if secret_file:
        with open(secret_file, encoding="utf-8") as handle:
            secret = handle.read().strip()
    else:
        secret = os.environ.get("OKTA_HOOK_SECRET", "").strip()
    if not secret:
        raise click.UsageError("no Event Hook secret: set OKTA_HOOK_SECRET or pass --secret-file")
    redactor = cli_redact.redactor_for(db_path, redact, redact_key_file)
    try:
        serve_hooks(db_path, secret=secret, host=host, port=port, path=hook_path, max_body=max_body,
                    auth_header=auth_header, log_level="info", redactor=redactor)
    except RedactionError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.argument("db_path", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs authentication or --public.")
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--public", is_flag=True,
              help="Listen beyond loopback WITHOUT authentication: anyone who can reach it reads emails, IPs and numbers.")
@click.option("-m", "--metadata", "metadata_path", type=click.Path(dir_okay=False, exists=True),
              help="Datasette metadata (YAML or JSON) merged over okta-calls' own, e.g. authentication and allow blocks.")
@click.option("--setting", "settings", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="A Datasette setting, e.g. --setting sql_time_limit_ms 3000 (repeatable).")
def serve(db_path: str, host: str, port: int, public: bool, metadata_path: str | None,
          settings: tuple[tuple[str, str], ...]) -> None:
    """Browse DB_PATH with Datasette: tables, views, canned analytics, a map and dashboards.

    Opens the archive read-only but live (a running ingest shows up). Password login: install
    datasette-auth-passwords and set OKTA_CALLS_PASSWORD_HASH (from `datasette hash-password`).
    """
    from .serve import ServeError, ServeOptions, parse_settings
    from .serve import serve as run_serve

    try:
        run_serve(ServeOptions(db_path, host, port, public, metadata_path, parse_settings(settings)))
    except ServeError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.argument("db_path", type=click.Path(dir_okay=False, exists=True))
@click.option("--since", help="Start: an ISO 8601 UTC date or time (2026-03-01, 2026-03-01T12:00) or a duration "
                              "before now (7d, 24h, 90m, 2w). Default: 30 days before the newest event.")
@click.option("--until", help="End (exclusive), in the same forms. Default: no end.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("-q", "--query", "queries", multiple=True, metavar="NAME",
              help="Only this canned query (repeatable), e.g. -q toll_fraud_suspects. Default: all.")
@click.option("--rows", default=10, show_default=True, type=click.IntRange(1), help="Rows per query in the table format.")
def report(db_path: str, since: str | None, until: str | None, output_format: str, queries: tuple[str, ...],
           rows: int) -> None:
    """Print the canned analytics of DB_PATH (the same queries Datasette shows) as tables or JSON."""
    from .report import ReportError, build_report, render_json, render_table

    try:
        result = build_report(db_path, since=since, until=until, queries=queries)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    click.echo(render_json(result) if output_format == "json" else render_table(result, rows=rows))


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
        click.echo(cli_redact.redaction_status(archive))
        waiting = archive.pending_projections()
        click.echo(f"projection queue: {waiting:,} events archived, awaiting projection"
                   + (" (a receiver is running, or another writer held the lock)" if waiting else ""))
        for row in archive.conn.execute(
            "SELECT id, started_at, status, source_kind, seen, inserted, duplicates, rejected "
            "FROM ingest_runs ORDER BY id DESC LIMIT 5"
        ):
            click.echo("run {}: {} {} {} seen={} new={} dup={} rejected={}".format(*row))
        for org, query, updated in archive.conn.execute("SELECT org, query, updated_at FROM sync_state"):
            click.echo(f"cursor: {org} [{query}] saved {updated}")


cli.add_command(cli_okta.get)
cli.add_command(cli_okta.auth_command)
cli.add_command(cli_redact.redact_token)
cli.add_command(cli_redact.redact_keygen)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
