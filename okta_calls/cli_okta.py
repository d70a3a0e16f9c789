"""The command-line side of the Okta API: the credential options ``ingest`` (API mode) and ``get`` share, the
client they build, and the ``get`` and ``auth`` commands. Click only; the work is in ``okta_calls.auth`` and
``okta_calls.sources.okta_api``. Secrets come from variables, auth.json or a hidden prompt, never echoed.
"""

from __future__ import annotations

import os
from typing import Any

import click

# ---- API options shared by `ingest` (API mode) and `get` -------------------------------------------------
_OKTA_OPTIONS = [
    click.option("--org", envvar="OKTA_ORG_URL", show_envvar=True,
                 help="Okta org URL, https://your-org.okta.com (http only for loopback addresses)."),
    click.option("--token", envvar="OKTA_API_TOKEN", show_envvar=True,
                 help="Okta API token, sent as SSWS (prefer the variable or auth.json: a flag shows in ps)."),
    click.option("--client-id", envvar="OKTA_CLIENT_ID", show_envvar=True,
                 help="OAuth 2.0 service app client id (with --private-key; scope okta.logs.read)."),
    click.option("--private-key", envvar="OKTA_PRIVATE_KEY", show_envvar=True,
                 type=click.Path(dir_okay=False, exists=True),
                 help="PEM (or JWK) private key file of the service app, for the private_key_jwt assertion."),
    click.option("--key-id", envvar="OKTA_KEY_ID", help="The key's kid, when the app has several keys."),
    click.option("--auth", "auth_path", default="auth.json", show_default=True, type=click.Path(dir_okay=False),
                 help="Credentials file written by `okta-calls auth` (used when no flag or variable is set)."),
]


def okta_options(command: Any) -> Any:
    """Decorate a command with the Okta org and credential options."""
    for option in reversed(_OKTA_OPTIONS):
        command = option(command)
    return command


def okta_client(params: dict[str, Any], **client_options: Any) -> Any:
    """An OktaClient from the shared options, or a one-line ClickException."""
    from .auth import client_from_options

    source = click.get_current_context().get_parameter_source("auth_path")
    try:
        client, _ = client_from_options(
            org=params["org"], token=params["token"], client_id=params["client_id"],
            private_key=params["private_key"], key_id=params["key_id"], auth_path=params["auth_path"],
            auth_path_explicit=source is not click.core.ParameterSource.DEFAULT,
            **client_options,
        )
    except ValueError as error:  # CredentialsError, AuthFileError, InvalidOrgUrl
        raise click.ClickException(str(error)) from None
    return client


@click.command()
@click.argument("path_and_query")
@okta_options
@click.option("--paginate", is_flag=True, help="Follow `next` links (stops at a short or empty page); NDJSON.")
def get(path_and_query: str, paginate: bool, **api: Any) -> None:
    """Print one authenticated raw GET, e.g. okta-calls get '/api/v1/logs?limit=5' (for debugging)."""
    import json

    from .sources.okta_api import OktaError

    with okta_client(api) as client:
        try:
            for response in client.iter_raw(path_and_query, paginate=paginate):
                body = response.json()
                if paginate and isinstance(body, list):
                    for item in body:
                        click.echo(json.dumps(item, ensure_ascii=False))
                else:
                    click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        except OktaError as error:
            raise click.ClickException(str(error)) from None


@click.command("auth")
@click.option("--auth", "auth_path", default="auth.json", show_default=True, type=click.Path(dir_okay=False),
              help="Where to save the credentials (mode 0600).")
@click.option("--org", envvar="OKTA_ORG_URL", prompt="Okta org URL (https://your-org.okta.com)",
              help="Okta org URL.")
@click.option("--client-id", help="Save an OAuth service app (with --private-key) instead of an API token.")
@click.option("--private-key", type=click.Path(dir_okay=False, exists=True),
              help="The service app's private key file (its path is saved, not the key).")
def auth_command(auth_path: str, org: str, client_id: str | None, private_key: str | None) -> None:
    """Save Okta credentials to an auth.json that only you can read (the token is asked for, hidden)."""
    from .auth import load_private_key, save_auth_file
    from .sources.okta_api import validate_org_url

    try:
        data = {"okta_org_url": validate_org_url(org)}
        if client_id or private_key:
            if not (client_id and private_key):
                raise click.UsageError("an OAuth service app needs both --client-id and --private-key")
            with open(private_key, encoding="utf-8") as handle:
                load_private_key(handle.read())  # refuse a bad key now, not at the first sync
            data.update(okta_client_id=client_id, okta_private_key_path=os.path.abspath(private_key))
        else:
            data["okta_api_token"] = click.prompt("Okta API token", hide_input=True).strip()
        path = save_auth_file(auth_path, data)
    except (ValueError, OSError) as error:  # InvalidOrgUrl, CredentialsError, AuthFileError, unreadable files
        raise click.ClickException(str(error)) from None
    click.echo(f"saved {path} (mode 0600)")
