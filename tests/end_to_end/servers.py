"""Real servers for the tests: a PostgreSQL cluster and an `mlflow server`, on 127.0.0.1.

`start_postgres` runs Debian's PostgreSQL (installed by `.ci/run` with apt-get) from a fresh
cluster in a temporary folder: `initdb` refuses root, so as root it runs as the unprivileged
`postgres` user the package creates. `start_mlflow_server` starts MLflow's own tracking server
with a SQLite backend and proxied artifacts. Both bind the address they are given (127.0.0.1
unless a test says otherwise) on a free port, and `stop` ends them. Without PostgreSQL the
tests that need it skip, except under CI (`CI=true`), where they fail (`missing`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DB_USER = "cnnlab"
DB_PASSWORD = "s3cr@t pw"  # a space and an "@": the URL must encode them, the logs must mask it


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def missing(what: str) -> None:
    """Skip a test whose server software is absent; under CI, fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs (initdb, pg_ctl), newest version first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return found[0].parent if found else None


def _as_postgres_user() -> list[str]:
    """The command prefix that runs a PostgreSQL program: as `postgres` when we are root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class Postgres:
    host: str
    port: int
    data_dir: Path
    bin_dir: Path

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        from urllib.parse import quote

        secret = f":{quote(DB_PASSWORD, safe='')}" if password else ""
        return f"postgresql://{DB_USER}{secret}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database on this cluster; returns its URL (with the password)."""
        self._run("psql", "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        env = {**os.environ, "PGPASSWORD": DB_PASSWORD}
        subprocess.run(
            [str(self.bin_dir / program) if (self.bin_dir / program).exists() else program,
             "-h", self.host, "-p", str(self.port), "-U", DB_USER, "-d", "postgres", *args],
            check=True, capture_output=True, env=env, timeout=60,
        )  # fmt: skip

    def pg_ctl(self, action: str, *extra: str) -> None:
        subprocess.run(
            [*_as_postgres_user(), str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
             "-w", "-t", "60", *extra, action],
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def start(self) -> None:
        self.pg_ctl(
            "start",
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            f"-h {self.host} -p {self.port} -k {self.data_dir}",
        )


@dataclass(frozen=True)
class Certificates:
    """A private CA and a server certificate it signed, in PEM files."""

    ca: Path  # what clients trust: MLFLOW_TRACKING_SERVER_CERT_PATH, libpq's sslrootcert
    cert: Path
    key: Path


def make_certificates(folder: Path, address: str = "127.0.0.1") -> Certificates:
    """A CA and a certificate for `address` made with the README's two openssl commands."""
    folder.mkdir(parents=True, exist_ok=True)
    quiet = {"check": True, "capture_output": True, "timeout": 120, "cwd": folder}
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
         "-subj", "/CN=cnnlab CA", "-keyout", "ca.key", "-out", "ca.crt"], **quiet,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "req", "-x509", "-CA", "ca.crt", "-CAkey", "ca.key", "-newkey", "rsa:2048",
         "-nodes", "-days", "825", "-subj", f"/CN={address}",
         "-addext", f"subjectAltName=IP:{address}", "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", "server.key", "-out", "server.crt"], **quiet,
    )  # fmt: skip
    return Certificates(folder / "ca.crt", folder / "server.crt", folder / "server.key")


def _require_tls(data_dir: Path, tls: Certificates) -> None:
    """Serve TLS with `tls`'s certificate and refuse every connection without it."""
    for source, name in ((tls.cert, "server.crt"), (tls.key, "server.key")):
        target = data_dir / name
        shutil.copyfile(source, target)
        target.chmod(0o600)  # PostgreSQL refuses a key others can read
        if os.geteuid() == 0:
            shutil.chown(target, "postgres")
    with (data_dir / "postgresql.conf").open("a") as config:
        config.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    rules = data_dir / "pg_hba.conf"
    rules.write_text("hostnossl all all all reject\n" + rules.read_text())  # first match wins


def start_postgres(host: str = "127.0.0.1", *, tls: Certificates | None = None) -> Postgres:
    """initdb a cluster in a new temporary folder (password authentication for `cnnlab`) and
    start it on `host` and a free port. `tls`: serve TLS with that certificate and refuse
    connections without it."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL (apt-get install postgresql)")
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="cnnlab-pg-"))
    data_dir = root / "data"
    password_file = root / "password"
    password_file.write_text(DB_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(password_file, "postgres")
    subprocess.run(
        [*_as_postgres_user(), str(bin_dir / "initdb"), "-D", str(data_dir), "-U", DB_USER,
         "-A", "scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    # initdb lets in 127.0.0.1 alone; a second host on the link comes from its /24.
    link = host.rsplit(".", 1)[0] + ".0/24"
    with (data_dir / "pg_hba.conf").open("a") as rules:
        rules.write(f"host all all {link} scram-sha-256\n")
    if tls is not None:
        _require_tls(data_dir, tls)
    server = Postgres(host, free_port(host), data_dir, bin_dir)
    server.start()
    return server


@dataclass
class MlflowServer:
    host: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    tls: Certificates | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def stop(self) -> None:
        """SIGTERM the server's whole process group (gunicorn/uvicorn workers too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


ADMIN_USER, ADMIN_PASSWORD = "admin", "admin pw: 12+ chars"  # an authenticated server's


def start_mlflow_server(
    folder: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    auth: bool = False,
    tls: Certificates | None = None,
) -> MlflowServer:
    """`mlflow server` with a SQLite backend and proxied artifacts in `folder`; waits until it
    answers /health (at most 120 s). `auth`: with MLflow's basic-auth app as the README sets
    it up (default permission READ, admin `ADMIN_USER`, password and secret key from the
    environment). `tls`: over HTTPS with that certificate, as the README serves it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    log = (folder / "server.log").open("ab")
    env = dict(os.environ)
    app: list[str] = []
    if auth:
        config = folder / "basic_auth.ini"
        config.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
            f"admin_username = {ADMIN_USER}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        env.update(
            MLFLOW_AUTH_CONFIG_PATH=str(config),
            MLFLOW_AUTH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            MLFLOW_FLASK_SERVER_SECRET_KEY="a test secret key",
        )
        app = ["--app-name", "basic-auth"]
    if tls is not None:
        app += ["--uvicorn-opts", f"--ssl-keyfile {tls.key} --ssl-certfile {tls.cert}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", *app,
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"),
         "--host", host, "--port", str(port), "--workers", "1",
         # MLflow refuses a Host header it was not told of (DNS-rebinding protection)
         "--allowed-hosts", f"{host},{host}:{port},localhost,localhost:{port}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
    )  # fmt: skip
    server = MlflowServer(host, port, folder, process, tls)
    trust = ssl.create_default_context(cafile=tls.ca) if tls else None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mlflow server exited: {(folder / 'server.log').read_text()[-2000:]}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.url}/health", timeout=2, context=trust) as answer,
        ):
            if answer.status == 200:
                return server
        time.sleep(0.5)
    server.stop()
    raise RuntimeError("mlflow server did not answer /health within 120 s")


@contextlib.contextmanager
def running_postgres(
    host: str = "127.0.0.1", *, tls: Certificates | None = None
) -> Iterator[Postgres]:
    server = start_postgres(host, tls=tls)
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@contextlib.contextmanager
def running_mlflow_server(
    folder: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    auth: bool = False,
    tls: Certificates | None = None,
) -> Iterator[MlflowServer]:
    server = start_mlflow_server(folder, host, port, auth=auth, tls=tls)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class SecondHost:
    """A second machine as far as cnnlab can tell: its own network, hostname and process ids.

    A network namespace joined to this one by a veth pair with loopback-range addresses
    (`route_localnet`), entered with its own UTS (hostname) and PID namespaces, so a process
    there has another host name and pids that mean nothing here: a dead worker there can only
    be told by its silence (heartbeats), never by its pid.
    """

    namespace: str
    hostname: str
    address: str  # the second host's own address
    server_address: str  # this host's address on the link: servers the second host uses bind it

    def command(self, argv: list[str]) -> list[str]:
        """`argv` as run on the second host."""
        return [
            "ip", "netns", "exec", self.namespace,
            "unshare", "--uts", "--pid", "--fork", "--mount-proc",
            "sh", "-c", f'hostname {self.hostname} && exec "$@"', "sh", *argv,
        ]  # fmt: skip


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def second_host(hostname: str = "host2") -> Iterator[SecondHost]:
    """Make the second host, yield it, and remove its namespace (the veth pair and the route
    through it go with it). Needs root, `ip` and `unshare`."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        missing("root with `ip` (iproute2) and `unshare` (util-linux)")
    tag = os.getpid() % 100_000
    namespace, here, there = f"cnnlab-{tag}", f"cnl{tag}a", f"cnl{tag}b"
    subnet = f"127.{42 + tag % 200}.{tag % 250}"
    host = SecondHost(namespace, hostname, f"{subnet}.2", f"{subnet}.1")
    _sh("ip", "netns", "add", namespace)
    try:
        _sh("ip", "link", "add", here, "type", "veth", "peer", "name", there)
        _sh("ip", "link", "set", there, "netns", namespace)
        # This side: 127/8 is all local by default; the link's /24 goes through the veth.
        _sh("sysctl", "-qw", f"net.ipv4.conf.{here}.route_localnet=1")
        _sh("ip", "addr", "add", f"{host.server_address}/24", "dev", here)
        _sh("ip", "link", "set", here, "up")
        _sh("ip", "route", "add", f"{subnet}.0/24", "dev", here, "table", "local",
            "proto", "kernel", "scope", "link", "src", host.server_address)  # fmt: skip
        inside = ["ip", "netns", "exec", namespace]
        _sh(*inside, "ip", "link", "set", "lo", "up")
        _sh(*inside, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1")
        _sh(*inside, "sysctl", "-qw", f"net.ipv4.conf.{there}.route_localnet=1")
        _sh(*inside, "ip", "addr", "add", f"{host.address}/24", "dev", there)
        _sh(*inside, "ip", "link", "set", there, "up")
        # There: keep 127.0.0.0/16 local (its own loopback), so the link's /24 is not.
        _sh(*inside, "ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local")
        _sh(*inside, "ip", "route", "add", "local", "127.0.0.0/16", "dev", "lo", "table", "local")
        yield host
    finally:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=30)


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "32m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder` (root only), unmounted afterwards: a disk the
    test can fill without touching the machine's."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        missing("root with `mount`")
    folder.mkdir(parents=True, exist_ok=True)
    _sh("mount", "-t", "tmpfs", "-o", f"size={size}", "cnnlab-test", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path) -> Path:
    """Write a file in `folder` until its filesystem is full; returns it (delete it to free)."""
    filler = folder / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        block = b"\0" * (1 << 16)
        while True:
            out.write(block)
            out.flush()
    return filler
