"""The credential files of okta-calls: ``auth.json`` and private keys, kept private on disk.

- ``auth.json`` (written by ``okta-calls auth``) is saved atomically with mode 0600 and refused on load when
  group or others may read or write it;
- a private key (PEM or JWK) is loaded as an RSA (2048+ bits, RS256) or P-256 EC (ES256) signing key; a key
  file others may read is warned about.

Errors never quote a secret. Warnings go to the ``okta_calls.auth`` logger, as before the split.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from okta_calls.jsonio import JSONError, dumps, loads

__all__ = [
    "AuthFileError",
    "CredentialsError",
    "SigningKey",
    "load_auth_file",
    "load_private_key",
    "save_auth_file",
]

log = logging.getLogger("okta_calls.auth")


class CredentialsError(ValueError):
    """No usable credential, or an unusable one (message says which and how to fix it, without the secret)."""


class AuthFileError(CredentialsError):
    """The auth file is missing, unsafe (group/world-accessible) or not what ``okta-calls auth`` writes."""


SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_private_key(text: str | bytes, key_id: str | None = None) -> tuple[SigningKey, str, str | None]:
    """Load a private key from PEM or JWK text; return the key, its JWS algorithm and its key id.

    RSA keys sign with RS256, P-256 EC keys with ES256 (both are what Okta accepts for ``private_key_jwt``).
    Errors never quote the key.
    """
    data = text.encode() if isinstance(text, str) else text
    stripped = data.strip()
    try:
        if stripped.startswith(b"{"):
            jwk = jwt.PyJWK.from_json(stripped.decode())
            key = jwk.key
            key_id = key_id or jwk.key_id
        else:
            key = serialization.load_pem_private_key(stripped, password=None)
    except (ValueError, TypeError, jwt.exceptions.PyJWTError, UnsupportedAlgorithm, UnicodeDecodeError):
        raise CredentialsError(
            "the private key is not an unencrypted PEM private key or a private JWK"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise CredentialsError("the RSA private key must have at least 2048 bits")
        return key, "RS256", key_id
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key, "ES256", key_id
    raise CredentialsError("the private key must be an RSA (2048+ bits) or P-256 EC private key")

def _check_private_mode(path: Path, what: str, *, refuse: bool) -> None:
    """Refuse (or warn about) a file that group or others may read or write."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        message = (
            f"{what} {path} is accessible by group or others (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )
        if refuse:
            raise AuthFileError(message)
        log.warning("%s", message)


def load_auth_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read an ``auth.json``; refuse it when it is group/world-accessible or not a JSON object of strings."""
    file = Path(path)
    if not file.exists():
        raise AuthFileError(f"no auth file at {file}; run: okta-calls auth")
    _check_private_mode(file, "the auth file", refuse=True)
    try:
        data = loads(file.read_bytes())
    except JSONError as error:
        raise AuthFileError(f"the auth file {file} is not JSON ({error})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise AuthFileError(f"the auth file {file} is not a JSON object of strings")
    return data


def save_auth_file(path: str | os.PathLike[str], data: Mapping[str, str]) -> Path:
    """Write an ``auth.json`` atomically with mode 0600 (merging into an existing file's keys)."""
    file = Path(path)
    merged: dict[str, str] = {}
    if file.exists():
        merged.update(load_auth_file(file))
    merged.update({k: v for k, v in data.items() if v})
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(merged))
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return file

def _read_key_file(path: Path) -> str:
    """Read a private key file (warning when others may read it)."""
    try:
        _check_private_mode(path, "the private key file", refuse=False)
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise CredentialsError(f"cannot read the private key file {path}: {error.strerror}") from None
