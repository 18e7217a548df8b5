"""SSRF protection for webhook channels: which URLs may be called, and a connection pinned to the address
that was checked.

A webhook URL is user input that makes this process send HTTP requests, so it is checked when a rule is
saved and again before every delivery: only http/https, no credentials, no internal host names, no
internal service ports, and every address the host resolves to must be public. Numeric hosts are parsed the
way ``inet_aton`` and browsers do (decimal ``2130706433``, octal ``0177.0.0.1``, hex ``0x7f.1``, short
``127.1``), IPv6 literals are unwrapped when they embed an IPv4 address (mapped, compatible, 6to4, NAT64,
Teredo). The request then connects to the checked address itself, so no second DNS lookup can swap it
(DNS rebinding), and redirects are never followed. An operator permits an internal receiver on purpose
with an allow-list (``AGENTKIT_ALERT_WEBHOOK_ALLOWLIST`` or ``Guard(allow=...)``).
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from ..config import ENV_WEBHOOK_ALLOWLIST  # re-exported: the tests import it from here

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Ports of services that live behind the firewall and speak protocols an HTTP request can poke at.
INTERNAL_PORTS = frozenset({22, 23, 25, 2379, 3306, 5432, 6379, 8500, 9200, 11211, 27017})

# Instance metadata endpoints (AWS, GCP, Azure, Oracle, Alibaba, ECS task metadata, Azure wire server).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "168.63.129.16", "100.100.100.200",
    "192.0.0.192", "fd00:ec2::254",
))
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    "metadata.azure.internal", "metadata.tencentyun.com", "metadata.packet.net",
})
INTERNAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "broadcasthost"})
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan", ".intranet",
                     ".corp", ".cluster.local", ".svc", ".in-addr.arpa", ".ip6.arpa")

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# (network, why) in the order the reason is reported.
_REFUSED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified address"),
    (_V4("127.0.0.0/8"), "loopback address"),
    (_V4("169.254.0.0/16"), "link-local address"),
    (_V4("10.0.0.0/8"), "private address"),
    (_V4("172.16.0.0/12"), "private address"),
    (_V4("192.168.0.0/16"), "private address"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT address"),
    (_V4("224.0.0.0/4"), "multicast address"),
    (_V4("255.255.255.255/32"), "broadcast address"),
    (_V4("240.0.0.0/4"), "reserved address"),
    (_V4("192.0.0.0/24"), "reserved address"),
    (_V4("192.0.2.0/24"), "reserved address"),
    (_V4("192.88.99.0/24"), "reserved address"),
    (_V4("198.18.0.0/15"), "reserved address"),
    (_V4("198.51.100.0/24"), "reserved address"),
    (_V4("203.0.113.0/24"), "reserved address"),
)
_REFUSED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified address"),
    (_V6("::1/128"), "loopback address"),
    (_V6("::/96"), "reserved address"),  # IPv4-compatible, deprecated
    (_V6("fe80::/10"), "link-local address"),
    (_V6("fc00::/7"), "private address"),
    (_V6("fec0::/10"), "private address"),
    (_V6("ff00::/8"), "multicast address"),
    (_V6("64:ff9b:1::/48"), "reserved address"),
    (_V6("100::/64"), "reserved address"),
    (_V6("2001::/23"), "reserved address"),
    (_V6("2001:db8::/32"), "reserved address"),
    (_V6("3fff::/20"), "reserved address"),
    (_V6("5f00::/16"), "reserved address"),
)
_NAT64 = _V6("64:ff9b::/96")
_V4_COMPATIBLE = _V6("::/96")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


class UrlRefused(ValueError):
    """A webhook URL this process will not call; the message says why, without the URL's secrets."""


def parse_ipv4_numeric(host: str) -> ipaddress.IPv4Address | None:
    """The address of a numeric host in any ``inet_aton`` notation, None if it is not numeric at all.

    A host whose last label is a number (decimal, ``0``-prefixed octal, ``0x`` hex) is an IPv4 literal, as
    the WHATWG URL standard says; if it does not parse, it is refused rather than passed to DNS.
    """
    labels = host.lower().split(".")
    if not labels or not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4:
        raise UrlRefused(f"malformed numeric host {host!r}")
    values = []
    for label in labels:
        try:
            if label.startswith("0x"):
                values.append(int(label[2:] or "0", 16))
            elif len(label) > 1 and label.startswith("0"):
                values.append(int(label, 8))
            else:
                values.append(int(label, 10))
        except ValueError:
            raise UrlRefused(f"malformed numeric host {host!r}") from None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        raise UrlRefused(f"malformed numeric host {host!r}")
    number = last
    for i, v in enumerate(head):
        number |= v << (24 - 8 * i)
    return ipaddress.IPv4Address(number)


def parse_ip(host: str) -> IPAddress | None:
    """An IP address from a URL host in any notation (brackets and IPv6 zone ids stripped), else None."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        text = text.split("%", 1)[0]
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise UrlRefused(f"malformed IPv6 host {host!r}") from None
    return parse_ipv4_numeric(text.rstrip("."))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo client), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why a connection to ``ip`` is refused, or None when it is a public unicast address."""
    if ip in METADATA_ADDRESSES:
        return f"cloud metadata address {ip}"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            why = refusal_reason(inner)
            if why:
                return f"{why} (inside IPv6 {ip})"
            if ip.ipv4_mapped is not None:  # the same public IPv4 address, written as IPv6
                return None
        for net, why in _REFUSED_V6:
            if ip in net:
                return f"{why} {ip}"
    else:
        for net, why in _REFUSED_V4:
            if ip in net:
                return f"{why} {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def host_name_reason(host: str) -> str | None:
    """Why a host name is refused before any lookup (internal or metadata names, bad characters)."""
    if host in METADATA_HOSTS:
        return f"cloud metadata host {host!r}"
    if host in INTERNAL_HOSTS or host.endswith(INTERNAL_SUFFIXES):
        return f"internal host name {host!r}"
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return f"malformed host name {host!r}"
    if len(labels) < 2:
        return f"single-label host name {host!r} (internal)"
    return None


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry: an IP network or a host name, optionally limited to one port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    host: str | None
    port: int | None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        raw = text.strip().lower()
        port: int | None = None
        m = re.fullmatch(r"\[([0-9a-f:.%/]+)\](?::(\d+))?", raw)
        if m:
            raw, port = m.group(1), int(m.group(2)) if m.group(2) else None
        elif raw.count(":") == 1:
            raw, _, p = raw.partition(":")
            if not p.isdigit():
                raise ValueError(f"invalid allow-list entry {text!r}")
            port = int(p)
        try:
            return cls(ipaddress.ip_network(raw, strict=False), None, port)
        except ValueError:
            pass
        if not raw or not all(_HOST_LABEL.match(label) for label in raw.rstrip(".").split(".")):
            raise ValueError(f"invalid allow-list entry {text!r}: expected an IP, a CIDR or a host name")
        return cls(None, raw.rstrip("."), port)

    def allows_port(self, port: int) -> bool:
        return self.port is None or self.port == port


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (addresses, in order) and what to send as Host/SNI."""

    scheme: str
    host: str  # as written (lower-case, no brackets): the Host header and TLS server name
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host`` (the production resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    out: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in out:
            out.append(str(sockaddr[0]))
    return out


class Guard:
    """Decides which webhook URLs may be called. ``resolver`` is injectable so tests need no network."""

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self.allow = tuple(AllowEntry.parse(a) for a in allow if a and a.strip())
        self.resolver: Resolver = resolver or system_resolver

    @classmethod
    def from_env(cls, allow: Iterable[str] = (), resolver: Resolver | None = None) -> Guard:
        """A guard with the allow-list from ``$AGENTKIT_ALERT_WEBHOOK_ALLOWLIST`` (comma-separated) added."""
        env = [a for a in os.environ.get(ENV_WEBHOOK_ALLOWLIST, "").split(",") if a.strip()]
        return cls([*allow, *env], resolver)

    def _allowed(self, host: str | None, ip: IPAddress | None, port: int) -> bool:
        for entry in self.allow:
            if not entry.allows_port(port):
                continue
            if host is not None and entry.host == host:
                return True
            if ip is not None and entry.network is not None and ip.version == entry.network.version \
                    and ip in entry.network:
                return True
        return False

    def _port_ok(self, host: str, ip: IPAddress | None, port: int) -> bool:
        """Internal service ports pass only with an allow-list entry that names the port itself."""
        if port not in INTERNAL_PORTS:
            return True
        for entry in self.allow:
            if entry.port == port and (entry.host == host or (
                    ip is not None and entry.network is not None and ip.version == entry.network.version
                    and ip in entry.network)):
                return True
        return False

    def check(self, url: str) -> Target:
        """The checked target of ``url``, or UrlRefused saying why. Resolves the host (all addresses)."""
        if not isinstance(url, str) or not url:
            raise UrlRefused("empty URL")
        if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
            raise UrlRefused("URL contains spaces, control characters or backslashes")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UrlRefused(f"malformed URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UrlRefused(f"scheme {scheme or '(none)'!r} is not allowed; only http and https")
        if "@" in parts.netloc:
            raise UrlRefused("credentials in the URL are not allowed")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise UrlRefused("URL has no host")
        if port is None:
            port = 443 if scheme == "https" else 80
        if port == 0:
            raise UrlRefused("port 0 is not allowed")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if not host.isascii():  # IDNA first: full-width digits or circled letters must not slip past
            try:
                host = host.encode("idna").decode("ascii").lower().rstrip(".")
            except UnicodeError:
                raise UrlRefused(f"malformed host name {host!r}") from None
        literal = parse_ip(host)
        if literal is not None:
            if not self._port_ok(host, literal, port):
                raise UrlRefused(f"internal service port {port}")
            if not self._allowed(None, literal, port):
                why = refusal_reason(literal)
                if why:
                    raise UrlRefused(why)
            if isinstance(literal, ipaddress.IPv6Address) and literal.ipv4_mapped is not None:
                literal = literal.ipv4_mapped  # connect over IPv4 to the very address that was checked
            return Target(scheme, str(literal), port, path, (str(literal),))
        ascii_host = host
        if not self._port_ok(ascii_host, None, port):
            raise UrlRefused(f"internal service port {port}")
        host_allowed = self._allowed(ascii_host, None, port)
        if not host_allowed:
            why = host_name_reason(ascii_host)
            if why:
                raise UrlRefused(why)
        try:
            resolved = list(self.resolver(ascii_host, port))
        except (OSError, UnicodeError) as exc:
            raise UrlRefused(f"host {ascii_host!r} does not resolve ({exc})") from None
        if not resolved:
            raise UrlRefused(f"host {ascii_host!r} does not resolve")
        addresses: list[str] = []
        for text in resolved:
            try:
                ip = ipaddress.ip_address(str(text).split("%", 1)[0])
            except ValueError:
                raise UrlRefused(f"host {ascii_host!r} resolved to a malformed address {text!r}") from None
            if not host_allowed and not self._allowed(None, ip, port):
                why = refusal_reason(ip)
                if why:
                    raise UrlRefused(f"host {ascii_host!r} resolves to a {why}")
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            addresses.append(str(ip))
        return Target(scheme, ascii_host, port, path, tuple(addresses))


# --- a connection pinned to the checked address -------------------------------------------------------------
class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = address
        self._server_name = target.host
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # SNI and certificate checks use the host name from the URL, the TCP peer is the checked address.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: bytes


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float,
         ca_file: str | None = None) -> Response:
    """POST ``body`` to the checked target, connecting to its checked addresses in order; never redirects."""
    last_error: OSError | None = None
    for address in target.addresses:
        if target.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
            conn: http.client.HTTPConnection = _PinnedHTTPSConnection(target, address, timeout, context)
        else:
            conn = _PinnedHTTPConnection(target, address, timeout)
        try:
            try:
                conn.connect()
            except OSError as exc:  # try the next checked address; the request was not sent
                last_error = exc
                continue
            conn.request("POST", target.path, body=body, headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.reason, resp.read(65536))
        finally:
            conn.close()
    raise last_error or OSError("no address to connect to")
