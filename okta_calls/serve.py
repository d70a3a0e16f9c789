"""``okta-calls serve``: Datasette over an archive, with the project's metadata, canned queries and plugins.

The metadata comes from the top-level ``metadata.yml`` (installed as ``okta_calls/metadata.yml``). In it the
database is keyed by the placeholder ``okta-calls``; at start-up it is renamed to the stem of the file being
served (Datasette names a database after its file), so ``~/okta/calls-2026.db`` gets the same descriptions,
facets, canned queries and dashboards as ``okta-calls.db``. The canned queries are built from
``okta_calls/queries/*.sql`` (see ``okta_calls.analytics``); ``metadata.yml`` holds no SQL of its own.

The archive is served mutable (Datasette opens it ``?mode=ro``), never immutable, so a running ``ingest
--follow`` or ``receive`` shows up live. The archive holds emails, IP addresses and phone numbers: on any host
other than loopback, ``serve`` refuses to start unless authentication is configured or ``--public`` is given.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .analytics import datasette_queries
from .walgate import gate_reads

log = logging.getLogger(__name__)

#: The database key used in metadata.yml, renamed at start-up to the served file's stem.
PLACEHOLDER_DATABASE = "okta-calls"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001

#: Settings that differ from Datasette's defaults. Facet suggestions try every column of a table page in turn
#: (4.7 s per events page at 1M rows, measured); the default facets of metadata.yml replace them. Every canned
#: query runs within Datasette's default 1 s SQL limit on its own (benchmarks/bench_datasette.py checks it at 1M
#: events), but the dashboard asks for nine of them at once and, sharing two cores, one can pass 1 s of wall
#: time: 4 s leaves room for that.
DEFAULT_SETTINGS: dict[str, Any] = {"suggest_facets": False, "sql_time_limit_ms": 4000}

#: Environment variables that turn on password authentication (datasette-auth-passwords) without a metadata
#: file of your own: the PBKDF2 hash from ``datasette hash-password``, and the user name (default "admin").
PASSWORD_HASH_ENV = "OKTA_CALLS_PASSWORD_HASH"
USERNAME_ENV = "OKTA_CALLS_USERNAME"
AUTH_PASSWORDS_PLUGIN = "datasette-auth-passwords"
#: Datasette plugins that authenticate visitors; their configuration in metadata counts as "auth configured".
AUTH_PLUGINS = (
    AUTH_PASSWORDS_PLUGIN,
    "datasette-auth-tokens",
    "datasette-auth-github",
    "datasette-auth0",
    "datasette-auth-existing-cookies",
)


class ServeError(Exception):
    """``serve`` cannot start; ``str()`` is one line saying why and what to do."""


@dataclass(slots=True)
class ServeOptions:
    """What ``okta-calls serve`` was asked to do."""

    db_path: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public: bool = False
    metadata_path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


# --- metadata ---------------------------------------------------------------------------------------------


def load_base_metadata() -> dict[str, Any]:
    """The project's ``metadata.yml`` as shipped in the package."""
    text = (resources.files("okta_calls") / "metadata.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ServeError("okta_calls/metadata.yml is not a YAML mapping")
    return data


def load_metadata_file(path: str) -> dict[str, Any]:
    """A metadata overlay of the user's own (YAML or JSON), e.g. authentication and ``allow`` blocks."""
    try:
        data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ServeError(f"cannot read the metadata file {path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ServeError(f"{path}: metadata must be a mapping at the top level")
    return data


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``overlay``: mappings are merged key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def database_name(db_path: str | os.PathLike[str]) -> str:
    """The name Datasette gives the database of a file: its stem (``calls-2026.db`` -> ``calls-2026``)."""
    return Path(db_path).stem


def _rename_database(metadata: dict[str, Any], name: str) -> None:
    databases = metadata.get("databases") or {}
    if PLACEHOLDER_DATABASE in databases and name != PLACEHOLDER_DATABASE:
        own = databases.pop(PLACEHOLDER_DATABASE)
        databases[name] = deep_merge(own, databases.get(name) or {})
    metadata["databases"] = databases


def _retarget_dashboards(metadata: dict[str, Any], name: str) -> None:
    """Point the dashboards' charts and filters at the served database and fill in canned-query SQL.

    A chart may name a canned query (``canned_query: calls_per_day``) instead of carrying SQL of its own; it then
    shows exactly what the canned query shows, and takes the dashboard's filters as the query's parameters.
    """
    queries = datasette_queries()
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards") or {}
    for dashboard in dashboards.values():
        for part in ("charts", "filters"):
            for item in (dashboard.get(part) or {}).values():
                if item.get("db") in (None, PLACEHOLDER_DATABASE) and ("query" in item or "canned_query" in item):
                    item["db"] = name
                canned = item.pop("canned_query", None)
                if canned is not None:
                    if canned not in queries:
                        raise ServeError(f"metadata.yml: dashboard chart names an unknown canned query {canned!r}")
                    item["query"] = queries[canned]["sql"]


def build_metadata(db_path: str | os.PathLike[str], overlay: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metadata to serve ``db_path`` with: the project's, plus ``overlay``, keyed by the file's stem, with
    the canned queries from ``okta_calls/queries`` and the dashboards pointed at that database."""
    metadata = load_base_metadata()
    if overlay:
        metadata = deep_merge(metadata, overlay)
    name = database_name(db_path)
    _rename_database(metadata, name)
    database = metadata["databases"].setdefault(name, {})
    database["queries"] = deep_merge(datasette_queries(), database.get("queries") or {})
    _retarget_dashboards(metadata, name)
    return metadata


def password_overlay(environ: Mapping[str, str]) -> dict[str, Any]:
    """Metadata that turns on datasette-auth-passwords from ``OKTA_CALLS_PASSWORD_HASH``, or nothing.

    Visitors must then log in at ``/-/login`` as ``OKTA_CALLS_USERNAME`` (default ``admin``); the hash stays in
    the environment (Datasette's ``$env`` indirection), never in a file.
    """
    if not environ.get(PASSWORD_HASH_ENV):
        return {}
    username = environ.get(USERNAME_ENV) or "admin"
    return {
        "allow": {"id": username},
        "plugins": {AUTH_PASSWORDS_PLUGIN: {f"{username}_password_hash": {"$env": PASSWORD_HASH_ENV}}},
    }


def parse_settings(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``--setting NAME VALUE`` pairs as Datasette settings, typed like Datasette's defaults."""
    from datasette.app import SETTINGS

    defaults = {setting.name: setting.default for setting in SETTINGS}
    settings: dict[str, Any] = {}
    for name, value in pairs:
        if name not in defaults:
            raise ServeError(f"unknown Datasette setting {name!r}; see https://docs.datasette.io/en/stable/settings.html")
        default = defaults[name]
        try:
            if isinstance(default, bool):
                if value.lower() not in ("on", "off", "true", "false", "1", "0"):
                    raise ValueError(value)
                settings[name] = value.lower() in ("on", "true", "1")
            elif isinstance(default, int):
                settings[name] = int(value)
            else:
                settings[name] = value
        except ValueError:
            raise ServeError(f"setting {name} needs a {type(default).__name__}, not {value!r}") from None
    return settings


# --- exposure ---------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and ``localhost``."""
    candidate = host.strip().strip("[]")
    if candidate.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(candidate).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def installed_plugins() -> set[str]:
    """Names of the Datasette plugins installed in this environment (``datasette-cluster-map``, ...)."""
    from datasette.plugins import get_plugins

    return {str(plugin["name"]) for plugin in get_plugins()}


def auth_problem(metadata: Mapping[str, Any], plugins: set[str]) -> str | None:
    """Why anonymous visitors could read the archive with this metadata, or ``None`` when they cannot.

    Authentication counts as configured when an authentication plugin is installed, has configuration in the
    metadata, and a top-level ``allow`` block keeps visitors who did not log in out of the instance.
    """
    configured = [name for name in AUTH_PLUGINS if name in (metadata.get("plugins") or {})]
    if not configured:
        return "no authentication is configured"
    missing = [name for name in configured if name not in plugins]
    if missing:
        return f"the metadata configures {', '.join(missing)} but it is not installed (pip install {missing[0]})"
    allow = metadata.get("allow")
    if allow is None or allow is True:
        return (
            f"{configured[0]} is configured but there is no top-level 'allow' block, so visitors who do not log "
            "in can still read everything"
        )
    return None


def check_exposure(host: str, public: bool, metadata: Mapping[str, Any], plugins: set[str] | None = None) -> None:
    """Refuse (``ServeError``) to listen beyond loopback with an open archive, unless ``public`` says so."""
    if is_loopback(host):
        return
    problem = auth_problem(metadata, installed_plugins() if plugins is None else plugins)
    if problem is None:
        log.info("listening on %s with authentication", host)
        return
    if public:
        log.warning("serving on %s WITHOUT authentication (--public): %s", host, problem)
        return
    raise ServeError(
        f"refusing to listen on {host}: the archive holds emails, IP addresses and phone numbers and {problem}. "
        f"Set {PASSWORD_HASH_ENV} (a hash from `datasette hash-password`, with {AUTH_PASSWORDS_PLUGIN} "
        "installed), or pass --metadata with your own authentication and 'allow' block, or --public to serve "
        "it to anyone who can reach this address"
    )


# --- the Datasette instance ---------------------------------------------------------------------------------


def resolve_db_path(db_path: str) -> Path:
    """The absolute path of an existing archive file (``~`` expanded), or ``ServeError``."""
    path = Path(db_path).expanduser().resolve()
    if not path.is_file():
        raise ServeError(f"{db_path}: no such archive file (create one with `okta-calls ingest {db_path} FILE`)")
    return path


def refresh_archive_shape(path: Path) -> None:
    """Bring the archive's schema and views up to date before serving (as every okta-calls command does).

    Serving stays possible when that cannot be done (a read-only file, a writer holding the lock): the
    archive is then served as it is.
    """
    from .archive import Archive, ArchiveError

    try:
        with Archive(path, timeout=5.0) as archive:
            if archive.projections_stale:
                log.warning("%s: projections are from another okta-calls version: run `okta-calls rebuild`", path)
    except ArchiveError as error:
        log.warning("serving %s as it is: %s", path, error)


def build_datasette(
    db_path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Any:
    """A ``datasette.app.Datasette`` serving ``db_path`` (mutable, read-only connections) with okta-calls'
    metadata (or ``metadata`` when given, already adapted) and settings."""
    from datasette.app import Datasette

    from .datasette_plugin import register

    register()  # the events facets from kept counts (okta_calls/datasette_plugin.py)
    path = os.fspath(db_path)
    datasette = Datasette(
        [path],
        metadata=dict(metadata) if metadata is not None else build_metadata(path),
        settings={**DEFAULT_SETTINGS, **(settings or {})},
        cors=False,
    )
    for database in datasette.databases.values():
        if database.path == path:
            gate_reads(database, path)  # a writer restarting the WAL may hold queries back (okta_calls.walgate)
    return datasette


async def _start(datasette: Any) -> None:
    await datasette.invoke_startup()
    for database in datasette.databases.values():
        await database.execute("select 1")


def prepare(options: ServeOptions, environ: Mapping[str, str] | None = None) -> Any:
    """Everything ``serve`` does before listening: check the file and the exposure, build Datasette."""
    environ = os.environ if environ is None else environ
    path = resolve_db_path(options.db_path)
    overlay = password_overlay(environ)
    if options.metadata_path:
        overlay = deep_merge(overlay, load_metadata_file(options.metadata_path))
    metadata = build_metadata(path, overlay)
    check_exposure(options.host, options.public, metadata)
    refresh_archive_shape(path)
    datasette = build_datasette(path, metadata=metadata, settings=options.settings)
    asyncio.run(_start(datasette))
    return datasette


def serve(options: ServeOptions) -> None:
    """Run Datasette over the archive until interrupted (uvicorn, one worker, as ``datasette serve`` does)."""
    import uvicorn

    datasette = prepare(options)
    name = database_name(options.db_path)
    log.info("serving %s as /%s on http://%s:%d/", options.db_path, name, options.host, options.port)
    uvicorn.run(
        datasette.app(), host=options.host, port=options.port, log_level="info", lifespan="on", workers=1
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m okta_calls.serve DB [--host H] [--port P] [--public]``, for use before the CLI has it."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m okta_calls.serve")
    parser.add_argument("db_path")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--public", action="store_true")
    parser.add_argument("--metadata")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="okta-calls: %(levelname)s: %(message)s")
    try:
        serve(ServeOptions(args.db_path, args.host, args.port, args.public, args.metadata))
    except ServeError as error:
        raise SystemExit(f"okta-calls serve: {error}") from None


if __name__ == "__main__":
    main()


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SETTINGS",
    "PLACEHOLDER_DATABASE",
    "ServeError",
    "ServeOptions",
    "auth_problem",
    "build_datasette",
    "build_metadata",
    "check_exposure",
    "database_name",
    "is_loopback",
    "parse_settings",
    "password_overlay",
    "prepare",
    "serve",
]
