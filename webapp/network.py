"""Where students reach a server from their own devices: this machine's network addresses, the URL to share
as text and as a QR code, and what to do when the network is in the way.

The addresses come from psutil, which lists every network interface the same way on Linux, macOS and
Windows without sending a packet anywhere (asking "which address would reach the internet" would).
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Callable

from webapp.i18n import N_

ANY_ADDRESS = "0.0.0.0"
LOOPBACK = "127.0.0.1"
# Interfaces that are this machine's own plumbing, not a network a student's device is on.
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "cni", "flannel", "tun", "tap", "utun")

# One sentence per case, shown at start and on /live, said in the terminal's or the page's language.
REACH_ADVICE = (
    (
        "Windows",
        N_(
            "Windows Defender Firewall asks whether to allow nginx or Python: tick Private networks and press "
            "Allow access (on a network Windows calls Public, students cannot connect)."
        ),
    ),
    (
        "macOS",
        N_(
            "macOS asks whether nginx or Python may accept incoming network connections: press Allow (or allow it"
            " under System Settings → Network → Firewall → Options)."
        ),
    ),
    ("Linux", N_("With a firewall on (ufw), let the port in: sudo ufw allow %(port)s/tcp")),
    (
        N_("Hotspot or guest Wi-Fi"),
        N_(
            "Phone hotspots and guest Wi-Fi often keep devices from reaching each other (client isolation): if no"
            " student can open the address, use the classroom's network, or a hotspot that lets devices see each"
            " other."
        ),
    ),
)


def reach_advice(say: Callable[[str], str], port: int) -> list[tuple[str, str]]:
    """REACH_ADVICE said in a language (`say`), for a server on `port`."""
    return [(say(system), say(sentence) % {"port": port}) for system, sentence in REACH_ADVICE]


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def beyond_this_machine(host: str) -> bool:
    """Whether a server listening on `host` (uvicorn's --host: an address or a name) is meant for others: any
    address but this machine's own 127.0.0.1 (another 127.x address is how the tests play a second device)."""
    return host.lower() not in ("localhost", LOOPBACK, "::1")


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses on networks other devices can be on: up, not loopback, not link-local
    (169.254.x.x, which a device gives itself when no network gives it one), not a virtual bridge."""
    import psutil  # here, not at the top: the server starts (and restarts on a code edit) without it

    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    found = []
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        if name not in up or name.lower().startswith(VIRTUAL_PREFIXES):
            continue
        for address in addresses:
            if address.family.name != "AF_INET":
                continue
            ip = ipaddress.IPv4Address(address.address)
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.append(str(ip))
    return list(dict.fromkeys(found))


def reachable_addresses(listen: list[str]) -> list[str]:
    """The addresses a server listening on `listen` can be reached at by others: this machine's on every
    network for 0.0.0.0, else each address named but 127.0.0.1 (which is this machine's alone)."""
    if ANY_ADDRESS in listen:
        return lan_addresses()
    return [address for address in listen if address != LOOPBACK]


def student_urls(listen: list[str], port: int) -> list[str]:
    """The addresses to share with a class, for a server listening on `listen` at `port` (plain HTTP)."""
    return [f"http://{address}{'' if port == 80 else f':{port}'}/" for address in reachable_addresses(listen)]


def qr_svg(url: str) -> str:
    """A QR code of `url` as inline SVG markup (segno writes it; nothing in it comes from a visitor)."""
    import segno  # here, as psutil above

    return str(segno.make(url, error="m", micro=False).svg_inline(scale=6, border=2, omitsize=True, title=url))


def qr_terminal(url: str) -> str:
    """A QR code of `url` drawn with block characters, as a terminal shows it (dark on a light background)."""
    import segno

    out = io.StringIO()
    segno.make(url, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()
