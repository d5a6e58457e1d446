"""A real, throwaway PostgreSQL server for tests.

``PostgresServer`` runs the Debian PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``, the highest
version present) on 127.0.0.1 and a free port, with its data in a temporary directory. TLS is on with a freshly
minted CA and server certificate (``cryptography``), and ``pg_hba.conf`` accepts only ``hostssl`` with
scram-sha-256 password authentication: plain TCP connections are rejected, which proves clients use TLS.

PostgreSQL refuses to run as root; when the tests run as root (CI) ``initdb``/``pg_ctl`` run as the ``postgres``
user through ``runuser``. Unix sockets are disabled, so nothing outside the temporary directory is touched.

    with PostgresServer() as server:
        server.run_sql("CREATE DATABASE shop")
        conn = server.admin_connection("shop")
"""

from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pg8000.native
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["PostgresServer", "find_postgres_bin"]

_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SERVER_USER = "postgres"


def find_postgres_bin() -> Path:
    """The ``bin`` directory of the highest PostgreSQL version installed from Debian packages."""
    found: list[tuple[int, Path]] = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bin_dir = Path(initdb).parent
        version = bin_dir.parent.name
        if version.isdigit() and (bin_dir / "pg_ctl").exists():
            found.append((int(version), bin_dir))
    if not found:
        raise RuntimeError(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install the Debian 'postgresql' package "
            "(apt-get install postgresql; the project's .ci/run does this)"
        )
    return max(found)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _mint_certificates() -> tuple[bytes, bytes, bytes]:
    """``(ca_pem, server_cert_pem, server_key_pem)`` for 127.0.0.1 and localhost."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postgres-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert.public_bytes(serialization.Encoding.PEM),
        key_pem,
    )


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresServer:
    """A throwaway PostgreSQL server with TLS required; use as a context manager (or ``start()``/``stop()``)."""

    host = "127.0.0.1"
    admin_user = _SERVER_USER

    def __init__(self, *, startup_timeout_s: int = 30) -> None:
        self._startup_timeout_s = startup_timeout_s
        self._bin: Path | None = None
        self._base: Path | None = None
        self._running = False
        self.port = 0
        self.ca_pem = b""
        self.admin_password = secrets.token_urlsafe(24)
        self._as_root = os.geteuid() == 0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        if self._base is None:
            raise RuntimeError("the PostgreSQL server is not started")
        return self._base / "data"

    @property
    def log_file(self) -> Path:
        if self._base is None:
            raise RuntimeError("the PostgreSQL server is not started")
        return self._base / "postgresql.log"

    def start(self) -> None:
        if self._base is not None:
            raise RuntimeError("the PostgreSQL server is already started")
        self._bin = find_postgres_bin()
        try:
            self._base = Path(tempfile.mkdtemp(prefix="pgtest-"))
            self._base.chmod(0o755)  # the server user must be able to traverse it
            self._initdb()
            self._configure()
            for attempt in range(3):  # the free port can be taken between probing and binding
                self.port = _free_port()
                self._set_port(self.port)
                try:
                    self._pg_ctl("start", "-w", "-t", str(self._startup_timeout_s), "-l", str(self.log_file))
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            self._running = True
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and remove its files; safe to call more than once."""
        base, self._base = self._base, None
        if base is None:
            return
        try:
            if self._running or (base / "data" / "postmaster.pid").exists():
                self._running = False
                self._run(
                    [str(self._tool("pg_ctl")), "-D", str(base / "data"), "-m", "immediate", "-w", "stop"],
                    check=False,
                )
        finally:
            shutil.rmtree(base, ignore_errors=True)

    # ------------------------------------------------------------------ clients

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only this server's CA, checking the hostname (127.0.0.1 is in the SAN)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=self.ca_pem.decode())
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def admin_connection(self, database: str = "postgres") -> Any:
        """A superuser ``pg8000.native.Connection`` over TLS."""
        return pg8000.native.Connection(
            user=self.admin_user,
            password=self.admin_password,
            host=self.host,
            port=self.port,
            database=database,
            ssl_context=self.ssl_context(),
            timeout=30,
        )

    def run_sql(self, sql: str, database: str = "postgres") -> list[list[Any]]:
        """Run ``sql`` (one or more statements, simple query protocol) as the superuser; rows of the last one."""
        conn = self.admin_connection(database)
        try:
            rows = conn.run(sql)
            return list(rows) if rows is not None else []
        finally:
            conn.close()

    def create_user(self, name: str, password: str) -> None:
        """Create a login role with ``password`` (scram-sha-256) and no other privileges."""
        if not _ROLE_RE.match(name):
            raise ValueError(f"role name {name!r} must match {_ROLE_RE.pattern}")
        self.run_sql(f'CREATE ROLE "{name}" LOGIN PASSWORD {_sql_literal(password)}')

    # ------------------------------------------------------------------ internals

    def _tool(self, name: str) -> Path:
        assert self._bin is not None
        return self._bin / name

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self._as_root:
            argv = ["runuser", "-u", _SERVER_USER, "--", *argv]
        cwd = str(self._base) if self._base is not None else "/"
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            log = ""
            if self._base is not None and self.log_file.exists():
                log = "\n--- server log ---\n" + self.log_file.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}{log}".rstrip()
            )
        return result

    def _own(self, path: Path, mode: int) -> None:
        path.chmod(mode)
        if self._as_root:
            entry = pwd.getpwnam(_SERVER_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        assert self._base is not None
        if self._as_root:
            self._own(self._base, 0o755)
        self.data_dir.mkdir(mode=0o700)
        self._own(self.data_dir, 0o700)
        pwfile = self._base / "pwfile"
        pwfile.write_text(self.admin_password + "\n")
        self._own(pwfile, 0o600)
        try:
            self._run(
                [
                    str(self._tool("initdb")),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.admin_user,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _configure(self) -> None:
        ca_pem, cert_pem, key_pem = _mint_certificates()
        self.ca_pem = ca_pem
        cert_file, key_file = self.data_dir / "server.crt", self.data_dir / "server.key"
        cert_file.write_bytes(cert_pem)
        self._own(cert_file, 0o644)
        key_file.write_bytes(key_pem)
        self._own(key_file, 0o600)
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(
            "# TLS with a password only; plain TCP is refused.\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "host    all all 127.0.0.1/32 reject\n"
        )
        self._own(hba, 0o600)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as out:
            out.write(
                "\n# tests/postgres_server.py\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "ssl = on\n"
                f"ssl_cert_file = '{cert_file}'\n"
                f"ssl_key_file = '{key_file}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 30\n"
                "shared_buffers = 16MB\n"
                "max_wal_senders = 0\n"
                "wal_level = minimal\n"
                "log_min_messages = warning\n"
                "include_if_exists = 'port.conf'\n"
            )

    def _set_port(self, port: int) -> None:
        port_conf = self.data_dir / "port.conf"
        port_conf.write_text(f"port = {port}\n")
        self._own(port_conf, 0o600)

    def _pg_ctl(self, command: str, *args: str) -> None:
        self._run([str(self._tool("pg_ctl")), "-D", str(self.data_dir), *args, command])
