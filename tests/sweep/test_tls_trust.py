"""Trusting a tracking server over HTTPS the way MLflow's client will, checked at the start
against a real TLS server in this process (no MLflow); and what each TLS or login refusal of
PostgreSQL tells the user to do. Fast: the certificates take well under a second."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnnlab.errors import CnnlabError
from cnnlab.sweep.stores.connection import (
    CLIENT_CERT,
    INSECURE,
    SERVER_CERT,
    cannot_open_storage,
)
from cnnlab.sweep.stores.preflight import check_server_answers
from tests.end_to_end.servers import Certificates, make_certificates


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_url(certificates: Certificates) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert, certificates.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(autouse=True)
def no_tls_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (SERVER_CERT, INSECURE, CLIENT_CERT):
        monkeypatch.delenv(name, raising=False)


def _refusal(url: str) -> str:
    with pytest.raises(CnnlabError) as refused:
        check_server_answers(url)
    return str(refused.value)


def test_the_servers_ca_in_the_variable_is_trusted_and_nothing_else_is(
    https_url: str, certificates: Certificates, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    message = _refusal(https_url)
    assert "not signed by a CA this machine trusts" in message
    assert f"Set {SERVER_CERT} to the certificate of the CA" in message

    monkeypatch.setenv(SERVER_CERT, str(certificates.ca))
    check_server_answers(https_url)  # trusted: no error

    stranger = make_certificates(tmp_path / "stranger")
    monkeypatch.setenv(SERVER_CERT, str(stranger.ca))
    assert f"not signed by the CA in {SERVER_CERT}={stranger.ca}" in _refusal(https_url)


def test_a_name_the_certificate_lacks_and_a_wrong_scheme_are_named_with_the_fix(
    https_url: str, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_CERT, str(certificates.ca))
    message = _refusal(https_url.replace("127.0.0.1", "localhost"))
    assert "certificate for another name" in message and "'localhost'" in message
    plain = https_url.replace("https://", "http://")
    assert f"If it serves HTTPS, write {https_url!r}" in _refusal(plain)


def test_insecure_tls_skips_verification_as_mlflow_does(
    https_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INSECURE, "true")
    check_server_answers(https_url)


def test_unusable_tls_variables_are_refused_before_any_connection(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unanswered = "https://127.0.0.1:9"  # nothing listens: only the variables can be at fault
    monkeypatch.setenv(SERVER_CERT, str(tmp_path / "absent.crt"))
    assert f"{SERVER_CERT}={tmp_path / 'absent.crt'} names no file" in _refusal(unanswered)

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    monkeypatch.setenv(SERVER_CERT, str(junk))
    assert f"{SERVER_CERT}={junk} holds no PEM certificate" in _refusal(unanswered)

    monkeypatch.setenv(SERVER_CERT, str(certificates.ca))
    monkeypatch.setenv(INSECURE, "true")
    assert f"{INSECURE} and {SERVER_CERT} are both set" in _refusal(unanswered)

    monkeypatch.delenv(INSECURE)
    monkeypatch.setenv(CLIENT_CERT, str(certificates.ca))  # a certificate without its key
    assert f"{CLIENT_CERT}={certificates.ca} holds no PEM certificate and key" in _refusal(
        unanswered
    )


@pytest.mark.parametrize(
    ("libpq_says", "fix"),
    [
        ('pg_hba.conf rejects connection for host "h", user "u", database "d", no encryption',
         "add ?sslmode=verify-full&sslrootcert=CA.crt"),
        ('root certificate file "/root/.postgresql/root.crt" does not exist',
         "Set sslrootcert=PATH in the URL"),
        ("SSL error: certificate verify failed", "not signed by the CA in sslrootcert"),
        ('server certificate for "10.0.0.5" does not match host name "db"',
         "a host name or address the server's certificate carries"),
        ('password authentication failed for user "cnnlab"', "Check the password: PGPASSWORD"),
        ("fe_sendauth: no password supplied", "Give the password in PGPASSWORD or ~/.pgpass"),
        ('no pg_hba.conf entry for host "10.0.0.9", user "u", database "d"',
         "has no pg_hba.conf rule"),
        ('invalid sslmode value: "bogus"', "sslmode is one of disable, allow, prefer"),
        ('invalid connection option "sslmod"', "libpq has no such URL parameter"),
        ("Connection refused", "the database server is running and reachable"),
    ],
)  # fmt: skip
def test_each_postgres_refusal_gets_its_own_fix(libpq_says: str, fix: str) -> None:
    error = RuntimeError(f'connection to server at "h", port 5432 failed: {libpq_says}')
    message = cannot_open_storage("postgresql://u:secret@h:5432/d", error)
    assert fix in message and libpq_says in message and "secret" not in message
