"""The README's operations commands, run as written, as a non-root user.

Every bash block the README marks `<!-- ops: NAME -->` is read from README.md and run by bash
with `set -euo pipefail`, as the README's roles would run it: the database's owner (not
root: `postgres` when the tests run as root) on a cluster this test makes with `initdb` in a
temporary folder, listening on its Unix socket alone until the README's `listen_addresses`
and restart open it to the hosts; the tracking server; the first host; another host. The
only edits are the ones a reader makes: the addresses in the settings line, the ports, the
passwords in place of '...', and a two-seed `--quick` sweep in place of `pooling`. The
password holds `@`, `:`, `/`, `%`, `#`, `?` and a space, so the README's percent-encoding
is exercised, and the run uses the README's TLS set-up end to end.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shlex
import shutil
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
from urllib.parse import quote

import optuna
import pytest
from optuna.trial import TrialState

from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import open_storage
from tests.end_to_end.servers import free_port, missing, postgres_bin

pytestmark = [pytest.mark.slow, pytest.mark.integration]

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "p@ss:w/rd 100% #ok?"  # every character that ends a URL field
SETTINGS_LINE = re.compile(r"^export DB_HOST=.*# your addresses$", re.MULTILINE)
SWEEP_OPTIONS = "--quick --seeds 2 --workers 1"


def readme_blocks() -> dict[str, str]:
    """The README's `ops:` blocks by name, unindented."""
    text = README.read_text()
    found = re.findall(r"<!-- ops: ([\w-]+) -->\s*\n\s*```bash\n(.*?)\n\s*```", text, re.DOTALL)
    blocks: dict[str, str] = {}
    for name, body in found:
        lines = body.splitlines()
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        blocks[name] = "\n".join(line[indent:] for line in lines)
    return blocks


@dataclass
class Roles:
    """Who runs what: the README's roles as OS users, and the folders they work in."""

    owner: str  # the database cluster's owner: never root
    hosts_user: str  # the tracking server's and the hosts' user
    root: Path
    env: dict[str, str]

    def as_user(self, user: str, script: str) -> list[str]:
        bash = ["bash", "-euo", "pipefail", "-c", script]
        return bash if user == _me() else ["runuser", "-u", user, "--", *bash]

    def folder(self, name: str, user: str) -> Path:
        path = self.root / name
        path.mkdir()
        if os.geteuid() == 0:
            shutil.chown(path, user)
        return path

    def run(
        self, user: str, script: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
    ) -> str:
        done = subprocess.run(
            self.as_user(user, script), cwd=cwd, env={**self.env, **(env or {})}, input=stdin,
            text=True,
            capture_output=True, timeout=600, start_new_session=True,  # no tty: prompts read stdin
        )  # fmt: skip
        assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- {done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        return done.stdout + done.stderr

    def start(self, user: str, script: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.as_user(user, script), cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _can_run_this_python(user: str, data_dir: Path) -> bool:
    """Whether `user` reaches this interpreter and the data (a clone under /root does not)."""
    check = f"import cnnlab, os, sys; sys.exit(not os.access({str(data_dir)!r}, os.R_OK | os.X_OK))"
    probe = ["runuser", "-u", user, "--", sys.executable, "-c", check]
    return subprocess.run(probe, capture_output=True, timeout=120).returncode == 0


@pytest.fixture
def roles(mnist_dir: Path) -> Iterator[Roles]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL (apt-get install postgresql)")
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="cnnlab-ops-"))
    root.chmod(0o755)
    owner = "postgres" if os.geteuid() == 0 else _me()
    # The hosts' commands run as the same unprivileged user where it can reach this Python
    # (a clone under /root cannot be read by another user: then they run as this one).
    hosts_user = owner if owner == _me() or _can_run_this_python(owner, mnist_dir) else _me()
    home = root / "home"
    home.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, owner)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "LANG": "C.UTF-8",
    }
    try:
        yield Roles(owner, hosts_user, root, env)
    finally:
        subprocess.run(
            ["runuser", "-u", owner, "--", str(bin_dir / "pg_ctl"), "-D", str(root / "db" / "data"),
             "-m", "immediate", "stop"] if os.geteuid() == 0 else
            [str(bin_dir / "pg_ctl"), "-D", str(root / "db" / "data"), "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _new_cluster(roles: Roles, port: int) -> dict[str, str]:
    """A cluster as a package leaves one: the owner's psql gets in over the Unix socket without
    a password, and nothing listens on TCP. Returns the owner's libpq environment."""
    folder = roles.folder("db", roles.owner)
    data = folder / "data"
    roles.run(roles.owner, f"initdb -D {data} -A trust -E UTF8 --no-sync >/dev/null", folder)
    (data / "pg_hba.conf").write_text("local all all trust\n")
    with (data / "postgresql.conf").open("a") as config:
        config.write(
            f"listen_addresses = ''\nport = {port}\nunix_socket_directories = '{folder}'\n"
        )
    roles.run(
        roles.owner, f"pg_ctl start -w -D {data} -l {folder / 'server.log'} >/dev/null", folder
    )
    return {"PGHOST": str(folder), "PGPORT": str(port), "PGDATABASE": "postgres"}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _edit(block: str, db_port: int, mlflow_port: int, data_dir: Path) -> str:
    """What a reader changes: ports, passwords, and a quick sweep in place of `pooling`."""
    block = block.replace("5432", str(db_port)).replace("5000", str(mlflow_port))
    block = block.replace("PGPASSWORD='...'", f"PGPASSWORD={shlex.quote(PASSWORD)}")
    options = f"{SWEEP_OPTIONS} --data-dir {shlex.quote(str(data_dir))}"
    block = block.replace("cnnlab.sweep pooling", f"cnnlab.sweep max_vs_avg {options}")
    return block.replace("cnnlab worker pooling", f"cnnlab worker max_vs_avg {options}")


def test_the_readmes_operations_commands_run_as_written(roles: Roles, mnist_dir: Path) -> None:
    blocks = readme_blocks()
    expected = {"settings", "database", "tracking-server", "first-host", "other-host",
                "certificates", "database-tls", "tracking-server-tls", "hosts-tls"}  # fmt: skip
    assert expected <= set(blocks), sorted(blocks)
    assert not any("sudo" in block for block in blocks.values())
    db_port, mlflow_port = free_port(), free_port()
    settings = SETTINGS_LINE.sub(
        "export DB_HOST=127.0.0.1 MLFLOW_HOST=127.0.0.1 HOSTS_NETWORK=127.0.0.0/8",
        blocks["settings"],
    )
    assert settings != blocks["settings"], "the README's settings line moved"

    def script(*names: str) -> str:
        parts = [settings, *(blocks[name] for name in names)]
        return _edit("\n".join(parts), db_port, mlflow_port, mnist_dir)

    libpq = _new_cluster(roles, db_port)
    db_folder = roles.root / "db"

    # 1. The database: nothing reaches it over TCP until the README's restart.
    assert not _listening(db_port)
    twice = f"{PASSWORD}\n{PASSWORD}\n"  # createuser --pwprompt
    roles.run(roles.owner, script("database"), db_folder, stdin=twice, env=libpq)
    assert _listening(db_port)

    # TLS: the certificates, then the database's (a reload) and the tracking server's.
    roles.run(roles.owner, script("certificates"), db_folder)
    roles.run(roles.owner, script("database-tls"), db_folder, env=libpq)
    server_dir = roles.folder("tracking", roles.hosts_user)
    host_dirs = [roles.folder(f"host{i}", roles.hosts_user) for i in (1, 2)]
    for name, targets in (("ca.crt", host_dirs), ("mlflow.crt", [server_dir]),
                          ("mlflow.key", [server_dir])):  # fmt: skip
        for target in targets:
            shutil.copy(db_folder / name, target / name)
            if os.geteuid() == 0:
                shutil.chown(target / name, roles.hosts_user)

    server_log = server_dir / "server.log"
    server = roles.start(roles.hosts_user, script("tracking-server-tls"), server_dir, server_log)
    try:
        _wait_for_https(mlflow_port, db_folder / "ca.crt", server, server_log)
        first_log = host_dirs[0] / "sweep.log"
        first = roles.start(
            roles.hosts_user, script("hosts-tls", "first-host"), host_dirs[0], first_log
        )
        _wait_for_line(first, first_log, "workers on other machines may join now")
        others = roles.run(roles.hosts_user, script("hosts-tls", "other-host"), host_dirs[1])
        first.wait(timeout=900)
        said = first_log.read_text()
        assert first.returncode == 0 and "Traceback" not in said, said[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)
        server.wait(timeout=60)

    # Every cell once, through TLS (hostssl refuses anything else), and no password shown.
    url = (f"postgresql://cnnlab:{quote(PASSWORD, safe='')}@127.0.0.1:{db_port}/cnnlab"
           f"?sslmode=verify-full&sslrootcert={db_folder / 'ca.crt'}")  # fmt: skip
    storage = open_storage(url)
    (summary,) = storage.get_all_studies()
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    cells = collections.Counter(t.user_attrs[Key.CELL] for t in done)
    assert len(cells) == 4 and set(cells.values()) == {1}, cells
    for text in (said, others):
        assert PASSWORD not in text and quote(PASSWORD, safe="") not in text


def _wait_for_https(port: int, ca: Path, server: subprocess.Popen[bytes], log: Path) -> None:
    trust = ssl.create_default_context(cafile=ca)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        with contextlib.suppress(OSError):
            url = f"https://127.0.0.1:{port}/health"
            with urllib.request.urlopen(url, timeout=2, context=trust) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.5)
    raise AssertionError(f"the README's tracking server did not answer: {log.read_text()[-3000:]}")


def _wait_for_line(process: subprocess.Popen[bytes], log: Path, words: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if words in text:
            return
        assert process.poll() is None, text[-3000:]
        time.sleep(0.5)
    raise AssertionError(f"no {words!r} within 300 s: {log.read_text()[-3000:]}")
