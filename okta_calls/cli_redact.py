"""The command-line side of redacted archives: the ``--redact`` options and the ``redact-*`` commands.

Click only; the work is in ``okta_calls.redaction`` (keys, the archive's setting) and ``okta_calls.redact``
(tokens). The key is read from ``$OKTA_CALLS_REDACT_KEY`` or a file, never from an option's value: a command
line shows in process listings.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .redact import Redactor
from .redaction import (
    KEY_ENV,
    META_FINGERPRINT,
    META_SCHEME,
    RedactionError,
    choose_redactor,
    fingerprint_at,
    load_key,
    new_key_file,
)

_OPTIONS = [
    click.option(
        "--redact",
        is_flag=True,
        help="Store phone numbers, emails, IP addresses and people's names as keyed tokens (HMAC) in the raw log "
        "and the projections. For a new archive; an archive made with it stays redacted. See the README.",
    ),
    click.option(
        "--redact-key-file",
        type=click.Path(dir_okay=False),
        help=f"File holding the redaction key (mode 0600). Default: ${KEY_ENV}. Make one with `okta-calls redact-keygen`.",
    ),
]


def redact_options(command: Any) -> Any:
    """Add ``--redact`` and ``--redact-key-file`` to a command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def redaction_key(key_file: str | None) -> bytes | None:
    """The key from ``--redact-key-file`` or the environment, or a one-line ClickException."""
    try:
        return load_key(key_file)
    except RedactionError as error:
        raise click.ClickException(str(error)) from None


def redactor_for(db_path: str, redact: bool, key_file: str | None) -> Redactor | None:
    """The redactor to write ``db_path`` with: with ``--redact``, or when the archive is redacted already.

    Decided before the archive is opened for writing, so a refusal leaves nothing behind; the write path checks
    the key against the archive again (``redaction.settle``).
    """
    key = redaction_key(key_file)
    try:
        return choose_redactor(key, requested=redact, archive_fingerprint=fingerprint_at(db_path))
    except RedactionError as error:
        raise click.UsageError(str(error)) from None


def redaction_status(archive: Any) -> str:
    """The ``status`` line about redaction: off, or on with the scheme and the key fingerprint."""
    fingerprint = archive.meta(META_FINGERPRINT)
    if fingerprint is None:
        return "  redaction: off (phone numbers, emails and IP addresses are stored as received)"
    return f"  redaction: on ({archive.meta(META_SCHEME)}), key fingerprint {fingerprint}"


@click.command("redact-token")
@click.argument("values", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(["phone", "email", "ip", "name", "login"]),
              help="What VALUES are. Default: guessed (an IP address, an email or a phone number).")
@click.option("--redact-key-file", type=click.Path(dir_okay=False),
              help=f"File holding the redaction key. Default: ${KEY_ENV}.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, exists=True),
              help="Check first that the key is the one this archive was redacted with.")
def redact_token(values: tuple[str, ...], kind: str | None, redact_key_file: str | None, db_path: str | None) -> None:
    """Print the token each VALUE has in a redacted archive, one per line, to look it up there.

    A value of '-' reads values from stdin, one per line (a command line shows in process listings). Example:
    okta-calls redact-token +14155550123 then SELECT * FROM calls WHERE phone_number = 'TOKEN'.
    """
    key = redaction_key(redact_key_file)
    if key is None:
        raise click.UsageError(f"no redaction key: set {KEY_ENV} or pass --redact-key-file")
    redactor = Redactor(key)
    if db_path is not None:
        stored = fingerprint_at(db_path)
        if stored is None:
            raise click.ClickException(f"{db_path} is not a redacted archive")
        if stored != redactor.fingerprint:
            raise click.ClickException(
                f"{db_path} was redacted with another key (fingerprint {stored}; this key's is {redactor.fingerprint})"
            )
    inputs = [line.strip() for line in sys.stdin if line.strip()] if values == ("-",) else list(values)
    for value in inputs:
        try:
            click.echo(redactor.token(value, kind))
        except ValueError as error:
            raise click.ClickException(f"{value!r}: {error}; say what it is with --kind") from None


@click.command("redact-keygen")
@click.argument("path", type=click.Path(dir_okay=False))
def redact_keygen(path: str) -> None:
    """Write a new random redaction key to PATH (mode 0600; an existing file is never overwritten).

    Keep it outside the archive and back it up: without it, nothing new can be written to a redacted archive
    and no value can be looked up in it.
    """
    try:
        file = new_key_file(path)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; a key file is never overwritten") from None
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
    click.echo(f"wrote a new redaction key to {file} (mode 0600); its fingerprint is {Redactor(file.read_bytes().strip()).fingerprint}")
