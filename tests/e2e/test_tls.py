"""TLS as the stack guide claims it, checked on the real stack: a leaf certificate for every name it answers to,
Mozilla's intermediate profile as sslyze reads it, Secure cookies over HTTPS, and plain HTTP sent to HTTPS on request.

Every connection goes to the stack's ports on 127.0.0.1. The other names below (a class's host name and address)
are only names: they travel inside the requests and the TLS handshakes, no traffic goes to them.
"""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from tests.support import RunningStack, require_program, run_stack
from tools.certificate import ensure_certificate
from tools.processes import HOST

CLASS_NAME = "classroom.example"
CLASS_ADDRESS = "192.0.2.10"  # a documentation address (TEST-NET-1): a name here, never connected to
# The whole scan takes about a second on loopback; this bound is for a busy 2-core CI machine.
SCAN_SECONDS = 90
# sslyze loads its bundled trust stores (Mozilla, Apple, Android...), and one of their certificates has a
# serial number cryptography warns about. That is in sslyze's data, not in the stack.
SSLYZE_OWN_STORES = (
    "ignore:Parsed a serial number which wasn't positive:cryptography.utils.CryptographyDeprecationWarning"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack as a class would start it: answering to the classroom's name and address too."""
    with run_stack(
        tmp_path_factory.mktemp("tls"), "--server-name", CLASS_NAME, "--server-name", CLASS_ADDRESS
    ) as running:
        yield running


@pytest.fixture(scope="module")
def https_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack started with --redirect-to-https: ready once plain HTTP redirects."""
    with run_stack(tmp_path_factory.mktemp("https-only"), "--redirect-to-https", ready_status=301) as running:
        yield running


def _port(stack: RunningStack, key: str) -> int:
    return int(stack.state[key].rsplit(":", 1)[1])


def _trusting(certificate: str) -> ssl.SSLContext:
    """A TLS client that trusts the stack's certificate, as a browser does once a visitor accepts it."""
    return ssl.create_default_context(cafile=certificate)


def _certificate(stack: RunningStack) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(stack.state["certificate"]).read_bytes())


def _scan(port: int, trusted: Path) -> ServerScanResult:
    """sslyze's scans that the Mozilla check reads, of HOST:port, within SCAN_SECONDS."""
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(HOST, port, ip_address=HOST),
        network_configuration=ServerNetworkConfiguration(HOST, network_timeout=5, network_max_retries=1),
        scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=trusted)
        ),
    )
    results: list[ServerScanResult] = []

    def run() -> None:
        scanner = Scanner()
        scanner.queue_scans([request])
        results.extend(scanner.get_results())

    scanning = threading.Thread(target=run, daemon=True)  # a scan that hangs is left behind, not waited for
    scanning.start()
    scanning.join(SCAN_SECONDS)
    assert results, f"sslyze did not finish its scan of port {port} within {SCAN_SECONDS} s"
    return results[0]


# The certificate.


def test_the_certificate_is_a_server_certificate_not_a_ca(stack: RunningStack) -> None:
    served = x509.load_pem_x509_certificate(
        ssl.get_server_certificate((HOST, _port(stack, "https_url")), timeout=5).encode()
    )
    certificate = _certificate(stack)
    assert served == certificate, "nginx serves the certificate the stack made"
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca  # a CA certificate is refused as a server's
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(purposes) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # Browsers refuse a server certificate that lives longer than 398 days; Mozilla's profile says 366.
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc <= datetime.timedelta(days=366)
    key = Path(stack.state["certificate"]).with_suffix(".key")
    assert (key.stat().st_mode & 0o777) == 0o600, "the private key is readable by its user only"


def test_the_certificate_names_every_host_the_stack_answers_to(stack: RunningStack) -> None:
    names = certificate_names(_certificate(stack))
    assert names == {"localhost", socket.gethostname().lower(), CLASS_NAME, "IP:127.0.0.1", f"IP:{CLASS_ADDRESS}"}
    context = _trusting(stack.state["certificate"])
    for name in names:
        host = name.removeprefix("IP:")
        # The handshake checks the name against the certificate; the request asks for that name.
        with (
            socket.create_connection((HOST, _port(stack, "https_url")), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(f"GET /ping HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            assert tls.recv(64).startswith(b"HTTP/1.1 200"), host


def certificate_names(certificate: x509.Certificate) -> set[str]:
    alt_names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {f"IP:{address}" for address in alt_names.get_values_for_type(x509.IPAddress)}
    return set(alt_names.get_values_for_type(x509.DNSName)) | addresses


def _old_style_certificate(tls_dir: Path) -> None:
    """The certificate earlier versions of the stack made: openssl's defaults, which make a CA."""
    tls_dir.mkdir(parents=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
            "-keyout", str(tls_dir / "localhost.key"), "-out", str(tls_dir / "localhost.crt"),
            "-subj", "/CN=localhost", "-addext", f"subjectAltName=DNS:localhost,IP:{HOST}",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_a_certificate_is_made_again_for_new_names_and_kept_for_the_same(tmp_path: Path) -> None:
    require_program("openssl")
    tls_dir = tmp_path / "tls"
    certificate, key = ensure_certificate(tls_dir, ["localhost", HOST])
    first = certificate.read_bytes()
    assert ensure_certificate(tls_dir, [HOST, "localhost"]) == (certificate, key)
    assert certificate.read_bytes() == first, "the same names: the certificate a visitor accepted is kept"
    ensure_certificate(tls_dir, ["localhost", HOST, CLASS_NAME])
    assert certificate.read_bytes() != first
    assert certificate_names(x509.load_pem_x509_certificate(certificate.read_bytes())) == {
        "localhost", "IP:127.0.0.1", CLASS_NAME,
    }  # fmt: skip
    assert (key.stat().st_mode & 0o777) == 0o600
    assert sorted(os.listdir(tls_dir)) == ["certificate.json", "localhost.crt", "localhost.key"]


def test_an_old_ca_certificate_is_replaced_by_a_server_certificate(tmp_path: Path) -> None:
    require_program("openssl")
    tls_dir = tmp_path / "tls"
    _old_style_certificate(tls_dir)
    old = x509.load_pem_x509_certificate((tls_dir / "localhost.crt").read_bytes())
    assert old.extensions.get_extension_for_class(x509.BasicConstraints).value.ca  # what this test is about
    certificate, _key = ensure_certificate(tls_dir, ["localhost", HOST])
    new = x509.load_pem_x509_certificate(certificate.read_bytes())
    assert not new.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_certificate_about_to_expire_is_made_again(tmp_path: Path) -> None:
    require_program("openssl")
    tls_dir = tmp_path / "tls"
    certificate, key = ensure_certificate(tls_dir, ["localhost", HOST])
    # The same names, but a certificate that ends tomorrow (as if made a year ago).
    expiring = tmp_path / "expiring.crt"
    subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-signkey", str(key), "-days", "1", "-out", str(expiring)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    expiring.replace(certificate)
    ensure_certificate(tls_dir, ["localhost", HOST])
    renewed = x509.load_pem_x509_certificate(certificate.read_bytes())
    assert renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=300)


# Mozilla's intermediate profile, as sslyze checks it.


@pytest.mark.filterwarnings(SSLYZE_OWN_STORES)
def test_sslyze_finds_the_stack_compliant_with_mozillas_intermediate_profile(stack: RunningStack) -> None:
    """Nothing of the profile is left out. sslyze checks a certificate's trust against its own trust stores
    and a CA file it is given (custom_ca_file): a self-signed certificate is in none of the stores, so it is
    given as that file, the way a visitor who accepts it trusts it. Every other check (versions, suites,
    curves, key size, signature, lifetime, the known attacks) is sslyze's own."""
    result = _scan(_port(stack, "https_url"), Path(stack.state["certificate"]))
    assert result.scan_status == ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    assert result.scan_result is not None and result.scan_result.elliptic_curves.result is not None
    curves = {curve.name for curve in result.scan_result.elliptic_curves.result.supported_curves or []}
    assert curves == {"X25519", "secp256r1", "secp384r1"}  # not X448 nor P-521
    try:
        check_server_against_tls_configuration(
            result, MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
        )
    except ServerNotCompliantWithTlsConfiguration as error:
        pytest.fail(f"not compliant with Mozilla's intermediate profile: {error.issues}")


# What goes over HTTPS stays there.


def test_the_language_cookie_is_secure_over_https_only(stack: RunningStack) -> None:
    with httpx.Client(verify=_trusting(stack.state["certificate"]), timeout=10) as client:
        over_https = client.get(stack.state["https_url"] + "/compare?lang=en")
    assert over_https.status_code == 200, over_https.text
    assert "secure" in _cookie_attributes(over_https)
    over_http = httpx.get(stack.url + "/compare?lang=en", timeout=10)
    assert over_http.status_code == 200, over_http.text
    assert "secure" not in _cookie_attributes(over_http)  # the local demo over plain HTTP keeps its language


def _cookie_attributes(response: httpx.Response) -> set[str]:
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=en;"), cookie
    return {attribute.strip().split("=")[0].lower() for attribute in cookie.split(";")[1:]}


def test_plain_http_serves_the_site_without_the_option(stack: RunningStack) -> None:
    response = httpx.get(stack.url + "/ping", timeout=10)
    assert response.status_code == 200, response.text


def test_with_the_option_plain_http_only_redirects_to_the_same_address_over_https(https_only: RunningStack) -> None:
    https_port = _port(https_only, "https_url")
    asked = [(HOST, "/dynamic?lang=en&name=a%20b"), ("localhost", "/static/index.html"), ("LocalHost:1", "/")]
    for host, path in asked:
        response = httpx.get(https_only.url + path, headers={"Host": host}, timeout=10)
        assert response.status_code == 301, (host, response.text)
        # The scheme and port are the stack's HTTPS, the name the one nginx checked (in lower case,
        # without the port the client claimed), the path and query exactly as asked.
        name = host.split(":")[0].lower()
        assert response.headers["location"] == f"https://{name}:{https_port}{path}"
        assert "strict-transport-security" not in response.headers  # browsers take HSTS over HTTPS only
    with httpx.Client(verify=_trusting(https_only.state["certificate"]), timeout=10) as client:
        followed = client.get(https_only.url + "/ping", follow_redirects=True)
    assert followed.status_code == 200 and str(followed.url).startswith("https://"), followed.url
    assert followed.headers["strict-transport-security"].startswith("max-age=")


def test_with_the_option_no_redirect_leads_to_a_host_nginx_does_not_answer_to(https_only: RunningStack) -> None:
    http_port = _port(https_only, "http_url")
    stranger = b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    assert _raw(http_port, stranger) == b"", "nginx closes the connection without a word"
    # A full address in the request line is the host nginx checks; the Host header is then not read.
    absolute = b"GET http://localhost/guestbook?x=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    answer = _raw(http_port, absolute)
    assert answer.startswith(b"HTTP/1.1 301"), answer[:200]
    location = f"\r\nLocation: https://localhost:{_port(https_only, 'https_url')}/guestbook?x=1\r\n".encode()
    assert location in answer and b"evil" not in answer, answer


def _raw(port: int, request: bytes) -> bytes:
    """Everything nginx sends for `request`, sent as written, until it closes the connection."""
    received = b""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:  # how nginx's 444 may end a connection
            pass
    return received
