"""Reaching a store: what a refusal says, how long a connection may take, and the TLS trust
a tracking server gets. No Optuna, no MLflow: standard library only.

Shared by the start's checks (`preflight`, before any heavy import) and by Optuna's storage
(`studies`), so both word a missing driver or an unreachable database the same way, and
neither imports the other.

A tracking server behind HTTPS with a self-signed certificate or a private CA is trusted
through MLflow's own environment variables, which its REST client hands to `requests`:
`MLFLOW_TRACKING_SERVER_CERT_PATH` (the CA certificate, PEM), `MLFLOW_TRACKING_INSECURE_TLS`
(no verification at all) and `MLFLOW_TRACKING_CLIENT_CERT_PATH` (a client certificate). The
start's check talks to the server before MLflow is imported, so `tracking_ssl_context` builds
the same trust from the same variables: a server MLflow would trust passes, and one it would
refuse is refused at the start with the variable to set, not after start-up as "did not
answer". PostgreSQL's TLS is libpq's (`sslmode`, `sslrootcert` in the URL); its refusals get
their fix in `cannot_open_storage`.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.sweep.stores.redact import first_line, redact

CONNECT_TIMEOUT_S = 10  # a database server that does not answer: an error, not a silent wait


_GENERIC_FIX = (
    "Check the URL (e.g. sqlite:///runs/optuna.db or postgresql://user@host:5432/db) and that "
    "the database server is running and reachable from this machine."
)

# libpq's words for a refusal whose fix is known, and that fix (TLS and authentication are the
# ones an operator meets when setting up hosts; the rest get the generic advice).
_KNOWN_FIXES = (
    ("no encryption", "The server accepts TLS connections only: add "
     "?sslmode=verify-full&sslrootcert=CA.crt to the URL (CA.crt: the certificate of the CA "
     "that signed the server's certificate)."),
    ("root certificate file", "Set sslrootcert=PATH in the URL to the certificate (PEM) of the "
     "CA that signed the server's certificate; without it libpq looks in "
     "~/.postgresql/root.crt."),
    ("certificate verify failed", "The server's certificate is not signed by the CA in "
     "sslrootcert (or ~/.postgresql/root.crt): set sslrootcert=PATH in the URL to the CA that "
     "signed it."),
    ("does not match host name", "Connect by a host name or address the server's certificate "
     "carries, or reissue the certificate for this one."),
    ("password authentication failed", "Check the password: PGPASSWORD, ~/.pgpass, or the "
     "URL's (percent-encoded) password."),
    ("no password supplied", "Give the password in PGPASSWORD or ~/.pgpass (or percent-encoded "
     "in the URL)."),
    ("invalid sslmode value", "sslmode is one of disable, allow, prefer, require, verify-ca "
     "or verify-full (verify-full checks the CA and the server's name)."),
    ("invalid connection option", "libpq has no such URL parameter: check its spelling "
     "against libpq's connection parameters (sslmode, sslrootcert, connect_timeout, …)."),
    ("pg_hba.conf", "The server has no pg_hba.conf rule for this host, user and database: add "
     "one (host DATABASE USER NETWORK scram-sha-256) and reload the server."),
)  # fmt: skip


def cannot_open_storage(url: str, error: BaseException) -> str:
    said = first_line(error)
    fix = next((fix for words, fix in _KNOWN_FIXES if words in said), _GENERIC_FIX)
    return (
        f"Cannot open the Optuna storage {redact(url)!r} (--storage): {type(error).__name__}: "
        f"{said}. {fix}"
    )


def missing_driver(url: str, module: str) -> str:
    if module.startswith("psycopg"):
        return (
            f"The Optuna storage {redact(url)!r} (--storage) needs the PostgreSQL driver "
            "psycopg, which is not installed here. Install it with: "
            "pip install 'cnnlab[postgres]'  (or: pip install 'psycopg[binary]')."
        )
    return (
        f"The Optuna storage {redact(url)!r} (--storage) needs the Python module {module!r}, "
        "which is not installed here. Install the driver for that database, or use "
        "sqlite:///… or postgresql://…."
    )


SERVER_CERT = "MLFLOW_TRACKING_SERVER_CERT_PATH"
INSECURE = "MLFLOW_TRACKING_INSECURE_TLS"
CLIENT_CERT = "MLFLOW_TRACKING_CLIENT_CERT_PATH"


def _insecure() -> bool:
    return os.environ.get(INSECURE, "").strip().lower() in ("true", "1")


def _pem_file(variable: str) -> str | None:
    """The file a variable names, refused when it names none."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    if not Path(value).is_file():
        raise CnnlabError(
            f"{variable}={value} names no file. Set it to the PEM file it stands for "
            f"({_WHAT[variable]}), or unset it."
        )
    return value


_WHAT = {
    SERVER_CERT: "the certificate of the CA that signed the tracking server's certificate, "
    "or that certificate itself when it is self-signed",
    CLIENT_CERT: "this client's certificate and key",
}


def tracking_ssl_context() -> ssl.SSLContext:
    """The trust MLflow's client applies to an https:// tracking URI, from its variables."""
    cafile = _pem_file(SERVER_CERT)
    if cafile and _insecure():
        # MLflow's client refuses the pair too; say so before its start-up, not after.
        raise CnnlabError(
            f"{INSECURE} and {SERVER_CERT} are both set: one verifies the tracking server's "
            f"certificate against {cafile}, the other turns verification off. Unset one "
            f"(keep {SERVER_CERT} to verify)."
        )
    try:
        # With a CA file, that file alone is trusted, as `requests` does with verify=PATH.
        context = ssl.create_default_context(cafile=None if _insecure() else cafile)
    except ssl.SSLError as error:
        raise CnnlabError(
            f"{SERVER_CERT}={cafile} holds no PEM certificate ({error.reason or error}). "
            f"Set it to {_WHAT[SERVER_CERT]}, in PEM (a file that starts "
            "'-----BEGIN CERTIFICATE-----')."
        ) from None
    if _insecure():  # what MLflow's verify=False amounts to
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client = _pem_file(CLIENT_CERT)
    if client:
        try:
            context.load_cert_chain(client)
        except ssl.SSLError as error:
            raise CnnlabError(
                f"{CLIENT_CERT}={client} holds no PEM certificate and key "
                f"({error.reason or error}). Set it to one PEM file with both."
            ) from None
    return context


def handshake_refused(tracking_uri: str, error: BaseException) -> str | None:
    """What a failed TLS handshake with the tracking server means (or plain HTTP sent to a TLS
    server), or None when `error` is neither (the caller then words it as a server that did
    not answer)."""
    shown = redact(tracking_uri)
    # A TLS server hangs up on plain HTTP (closed, or reset, before any answer).
    if isinstance(error, ConnectionResetError) and tracking_uri.startswith("http://"):
        return (
            f"The MLflow tracking server {shown!r} (--tracking-uri) closed the connection "
            f"without an answer. If it serves HTTPS, write "
            f"{shown.replace('http://', 'https://', 1)!r}."
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = (error.verify_message or str(error)).rstrip(".")
        cafile = os.environ.get(SERVER_CERT, "").strip()
        if "mismatch" in reason.lower():
            return (
                f"The MLflow tracking server {shown!r} (--tracking-uri) presented a "
                f"certificate for another name ({reason}). Use the host name or address "
                "its certificate names (openssl x509 -noout -ext subjectAltName -in "
                "server.crt shows them), or reissue the certificate for this one."
            )
        trusted = f"the CA in {SERVER_CERT}={cafile}" if cafile else "a CA this machine trusts"
        return (
            f"The MLflow tracking server {shown!r} (--tracking-uri) presented a certificate "
            f"not signed by {trusted} ({reason}). Set {SERVER_CERT} to {_WHAT[SERVER_CERT]} "
            "(PEM)."
        )
    if isinstance(error, ssl.SSLError):
        return (
            f"The MLflow tracking server {shown!r} (--tracking-uri) did not complete a TLS "
            f"handshake ({error.reason or error}). If it serves plain HTTP, write "
            f"{shown.replace('https://', 'http://', 1)!r}."
        )
    return None
