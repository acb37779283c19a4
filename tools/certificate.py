"""The stack's TLS certificate: a self-signed server (leaf) certificate for every name the stack answers to.

openssl makes it on the first start, offline. It is a leaf, never a CA: basicConstraints CA:FALSE
(strict verifiers refuse a CA certificate as a server's), keyUsage for a TLS server's key,
extendedKeyUsage serverAuth, and a subjectAltName for each name (browsers read only those, never
the CN). A record beside it says what it was made for; a certificate made for other names, one
without the record (the CA:TRUE kind older versions made) or one about to expire is made again.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from tools.processes import ProgramError, find_program, install_hint
from webapp.terminal import text as _

CERTIFICATE_NAME = "localhost.crt"
KEY_NAME = "localhost.key"
RECORD_NAME = "certificate.json"
# Browsers refuse a server certificate that lives longer than 398 days; Mozilla's
# intermediate profile allows 366.
LIFETIME_DAYS = 365
# A certificate with less than this left is made again at the next start.
RENEW_SECONDS = 30 * 24 * 60 * 60
OPENSSL_SECONDS = 60
# What the record says of the kind of certificate made here: change it when the recipe changes,
# and every stack makes its certificate again at its next start.
KIND = "leaf: CA:FALSE, serverAuth, RSA 2048, 365 days"
# One label of a DNS name as nginx and a certificate both take it: ASCII (xn-- for other scripts); the
# underscore too, which some machines have in their own names.
HOST_NAME_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def is_host_name(name: str) -> bool:
    return len(name) <= 253 and all(HOST_NAME_LABEL.fullmatch(label) for label in name.split("."))


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def server_name(text: str) -> str:
    """Given a --server-name, return it in lower case; raise ArgumentTypeError unless it is a host name or an
    IP address. Each name goes into nginx's configuration and into the certificate, so nothing else may."""
    name = text.strip().lower()
    if is_ip_address(name) or is_host_name(name):
        return name
    raise argparse.ArgumentTypeError(
        _("%(name)s is not a host name (letters, digits, hyphens and dots) or an IP address.") % {"name": text}
    )


def subject_alt_names(server_names: list[str]) -> str:
    """Given the names the stack answers to, return the certificate's subjectAltName: IP: for addresses, DNS: else."""
    return ", ".join(
        f"IP:{name}" if is_ip_address(name) else f"DNS:{name}" for name in dict.fromkeys(map(server_name, server_names))
    )


def openssl_config(server_names: list[str]) -> str:
    """openssl's configuration for the certificate: a TLS server's leaf for these names, not a CA.

    Written whole, so no system openssl.cnf (whose defaults make a CA) takes part."""
    return f"""\
[req]
distinguished_name = subject
x509_extensions = server
prompt = no

[subject]
CN = {server_name(server_names[0])}

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {subject_alt_names(server_names)}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def made_for(server_names: list[str]) -> dict[str, object]:
    """What the record beside a certificate made for these names says."""
    return {"kind": KIND, "names": sorted(set(map(server_name, server_names)))}


def ensure_certificate(tls_dir: Path, server_names: list[str]) -> tuple[Path, Path]:
    """Return (certificate, key) for these names: the ones in `tls_dir` if they were made for them and
    do not expire soon, else new ones made with openssl (the key readable by this user only)."""
    openssl = find_program("openssl")
    if openssl is None:
        raise ProgramError(install_hint("openssl"))
    try:
        wanted = made_for(server_names)
    except argparse.ArgumentTypeError as error:
        raise ProgramError(str(error)) from None
    if not _is_current(openssl, tls_dir, wanted):
        _make(openssl, tls_dir, server_names)
    return tls_dir / CERTIFICATE_NAME, tls_dir / KEY_NAME


def _is_current(openssl: str, tls_dir: Path, wanted: dict[str, object]) -> bool:
    certificate, key, record = tls_dir / CERTIFICATE_NAME, tls_dir / KEY_NAME, tls_dir / RECORD_NAME
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if recorded != wanted or not key.is_file():
        return False
    # `-checkend N` exits 0 when the certificate is still valid N seconds from now.
    check = [openssl, "x509", "-checkend", str(RENEW_SECONDS), "-noout", "-in", str(certificate)]
    return subprocess.run(check, capture_output=True, timeout=OPENSSL_SECONDS).returncode == 0


def _make(openssl: str, tls_dir: Path, server_names: list[str]) -> None:
    """Make the key and certificate in a private folder, then move both into place and write the record."""
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tls_dir, prefix=".new-") as new:  # mode 0700
        config, new_key, new_certificate = Path(new) / "openssl.cnf", Path(new) / KEY_NAME, Path(new) / CERTIFICATE_NAME
        config.write_text(openssl_config(server_names), encoding="utf-8")
        command = [
            openssl, "req", "-x509", "-config", str(config), "-newkey", "rsa:2048", "-nodes",
            "-days", str(LIFETIME_DAYS), "-keyout", str(new_key), "-out", str(new_certificate),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=OPENSSL_SECONDS)
        except subprocess.TimeoutExpired:
            done = subprocess.CompletedProcess(command, 1, "", f"timed out after {OPENSSL_SECONDS} s")
        if done.returncode:
            raise ProgramError(
                _("openssl could not make the TLS certificate: %(reason)s") % {"reason": done.stderr.strip()}
            )
        new_key.chmod(0o600)
        os.replace(new_key, tls_dir / KEY_NAME)
        os.replace(new_certificate, tls_dir / CERTIFICATE_NAME)
    record = tls_dir / RECORD_NAME
    record.write_text(json.dumps(made_for(server_names), indent=2), encoding="utf-8")
    record.chmod(0o600)
