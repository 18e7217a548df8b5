"""SSRF protection of webhook URLs: the refused table across notations, allowed public URLs, the allow-list.

Host name resolution is injected (``Guard(resolver=...)``) so these tests never touch the network or a DNS
server: a fake resolver maps test names to addresses. Production uses ``system_resolver`` (getaddrinfo).
Literal-address URLs must be decided without any lookup, which the resolver below checks.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import assume, given, settings, strategies as st

from otel_agentkit.alerts.netguard import (
    ENV_WEBHOOK_ALLOWLIST, INTERNAL_PORTS, Guard, UrlRefused, parse_ip, refusal_reason,
)

DNS = {  # the injected resolver's view of the world
    "hooks.slack.com": ["52.1.2.3"],
    "example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "hooks.example.com": ["93.184.216.34"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
    "internal.example.com": ["10.1.2.3"],
    "v6loop.example.com": ["::1"],
    "mapped.example.com": ["::ffff:192.168.0.1"],
    "meta.example.com": ["169.254.169.254"],
    "cgnat.example.com": ["100.64.3.4"],
    "hooks.internal": ["10.9.9.9"],
    "receiver.corp.example.com": ["10.20.30.40"],
}
LITERAL_LOOKUPS: list[str] = []


def fake_resolver(host: str, port: int) -> list[str]:
    if host not in DNS:
        LITERAL_LOOKUPS.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


def guard(*allow: str) -> Guard:
    return Guard(allow, resolver=fake_resolver)


REFUSED = [
    # loopback, in every notation
    ("http://127.0.0.1/", "loopback"),
    ("http://127.0.0.2:8080/hook", "loopback"),
    ("http://2130706433/", "loopback"),  # decimal
    ("http://0x7f000001/", "loopback"),  # hex
    ("http://017700000001/", "loopback"),  # octal
    ("http://0177.0.0.1/", "loopback"),  # dotted octal
    ("http://0x7f.0x0.0x0.0x1/", "loopback"),  # dotted hex
    ("http://127.1/", "loopback"),  # short
    ("http://127.0.1/", "loopback"),  # short
    ("http://0x7f.1/", "loopback"),  # short hex
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]:9000/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
    ("http://[::ffff:7f00:1]/", "loopback"),  # IPv4-mapped, hex
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "loopback"),
    ("http://１２７.０.０.１/", "loopback"),  # full-width digits (IDNA maps them)
    ("http://localhost/", "internal host name"),
    ("http://LOCALHOST./", "internal host name"),
    ("http://api.localhost/", "internal host name"),
    ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "internal host name"),
    ("http://127.0.0.1.nip.io/", "resolves to a loopback"),
    # private
    ("http://10.0.0.1/", "private"),
    ("http://10.255.255.255/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.254/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://167772161/", "private"),  # 10.0.0.1 decimal
    ("http://0xc0a80101/", "private"),  # 192.168.1.1 hex
    ("http://0300.0250.0001.0001/", "private"),  # 192.168.1.1 octal
    ("http://192.168.257/", "private"),  # short form: 192.168.1.1
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://[fc00::abcd]/", "private"),
    ("https://internal.example.com/", "resolves to a private"),
    ("https://mapped.example.com/", "resolves to a private"),
    # link-local
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    # carrier-grade NAT
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://1681915905/", "carrier-grade NAT"),  # 100.64.0.1 decimal
    ("https://cgnat.example.com/", "resolves to a carrier-grade NAT"),
    # multicast
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250:1900/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    # unspecified, broadcast, reserved
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.2.10/", "reserved"),
    ("http://198.18.0.1/", "reserved"),
    ("http://[2001:db8::1]/", "reserved"),
    ("http://[::1.2.3.4]/", "reserved"),  # IPv4-compatible (deprecated)
    # cloud metadata
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://2852039166/", "cloud metadata"),  # 169.254.169.254 decimal
    ("http://0xa9fea9fe/", "cloud metadata"),
    ("http://[::ffff:a9fe:a9fe]/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://100.100.100.200/", "cloud metadata"),
    ("http://168.63.129.16/", "cloud metadata"),  # Azure wire server: a public-range address
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
    ("http://metadata/", "cloud metadata"),
    ("https://meta.example.com/", "cloud metadata"),
    # IPv6 forms that carry an internal IPv4 address
    ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
    ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4
    ("http://[2002:c0a8:101::1]/", "private"),  # 6to4
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback"),  # Teredo
    # DNS: every resolved address must pass
    ("https://rebind.example.com/", "resolves to a private"),
    ("https://v6loop.example.com/", "resolves to a loopback"),
    ("https://nowhere.example.com/", "does not resolve"),
    # internal names, scheme, credentials, malformed
    ("http://hooks.internal/", "internal host name"),
    ("http://printer.local/", "internal host name"),
    ("http://intranet/", "single-label"),
    ("ftp://hooks.example.com/", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://hooks.example.com:70/_x", "scheme 'gopher'"),
    ("javascript:alert(1)", "scheme 'javascript'"),
    ("https://user:pass@hooks.example.com/", "credentials"),
    ("https://token@hooks.example.com/", "credentials"),
    ("http://hooks.example.com\\@127.0.0.1/", "backslashes"),
    ("http://hooks.example.com /x", "spaces"),
    ("http://%31%32%37.0.0.1/", "malformed"),
    ("http://1.2.3.4.5/", "malformed numeric host"),
    ("http://256.0.0.1/", "malformed numeric host"),
    ("http://0x1g.0.0.1/", "malformed"),
    ("http://[::ffff:127.0.0.1.1]/", "malformed"),
    ("http:///path-only", "no host"),
    ("http://hooks.example.com:99999/", "malformed URL"),
    ("http://hooks.example.com:0/", "port 0"),
]


@pytest.mark.parametrize("url, why", REFUSED, ids=[u for u, _ in REFUSED])
def test_refused(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as info:
        guard().check(url)
    assert why in str(info.value)


def test_table_is_big_enough() -> None:
    assert len(REFUSED) >= 40


@pytest.mark.parametrize("port", sorted(INTERNAL_PORTS))
def test_internal_service_ports_refused(port: int) -> None:
    with pytest.raises(UrlRefused, match=f"internal service port {port}"):
        guard().check(f"https://hooks.example.com:{port}/alert")


ALLOWED = [
    ("https://hooks.slack.com/services/T000/B000/XXXX", "hooks.slack.com", 443, ("52.1.2.3",)),
    ("https://example.com/hook", "example.com", 443, ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")),
    ("http://hooks.example.com:8080/x?y=1", "hooks.example.com", 8080, ("93.184.216.34",)),
    ("https://HOOKS.Example.COM./x", "hooks.example.com", 443, ("93.184.216.34",)),
    ("http://8.8.8.8/hook", "8.8.8.8", 80, ("8.8.8.8",)),
    ("http://134744072/hook", "8.8.8.8", 80, ("8.8.8.8",)),  # decimal notation of a public address
    ("https://[2606:4700:4700::1111]/hook", "2606:4700:4700::1111", 443, ("2606:4700:4700::1111",)),
    ("http://[::ffff:8.8.4.4]/", "8.8.4.4", 80, ("8.8.4.4",)),  # mapped public address: same host
]


@pytest.mark.parametrize("url, host, port, addresses", ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed_public(url: str, host: str, port: int, addresses: tuple[str, ...]) -> None:
    LITERAL_LOOKUPS.clear()
    target = guard().check(url)
    assert (target.host, target.port, target.addresses) == (host, port, addresses)
    assert not LITERAL_LOOKUPS  # literals are never looked up
    assert target.scheme == url.split(":")[0].lower()


def test_target_keeps_path_and_query() -> None:
    assert guard().check("https://example.com/a/b?token=x&y=1").path == "/a/b?token=x&y=1"
    assert guard().check("https://example.com").path == "/"


def test_allow_list_permits_internal_receivers_on_purpose() -> None:
    assert guard("127.0.0.1").check("http://127.0.0.1:8080/hook").addresses == ("127.0.0.1",)
    assert guard("10.0.0.0/8").check("https://internal.example.com/").addresses == ("10.1.2.3",)
    assert guard("hooks.internal").check("http://hooks.internal/x").addresses == ("10.9.9.9",)
    assert guard("[::1]").check("http://[::1]:9000/").addresses == ("::1",)
    assert guard("10.20.30.0/24").check("https://receiver.corp.example.com/").host == "receiver.corp.example.com"


def test_allow_list_is_narrow() -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        guard("127.0.0.1:9000").check("http://127.0.0.1:8080/")  # another port
    with pytest.raises(UrlRefused, match="private"):
        guard("10.0.0.0/16").check("http://10.1.0.1/")  # outside the network
    with pytest.raises(UrlRefused, match="internal service port 6379"):
        guard("127.0.0.1").check("http://127.0.0.1:6379/")  # a service port needs the port named
    assert guard("127.0.0.1:6379").check("http://127.0.0.1:6379/").port == 6379
    with pytest.raises(UrlRefused, match="credentials"):
        guard("127.0.0.1").check("http://a:b@127.0.0.1/")
    with pytest.raises(UrlRefused, match="scheme"):
        guard("127.0.0.1").check("ftp://127.0.0.1/")


def test_allow_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_WEBHOOK_ALLOWLIST, "127.0.0.1, 10.0.0.0/8")
    g = Guard.from_env(resolver=fake_resolver)
    assert g.check("http://127.0.0.1:8080/").addresses == ("127.0.0.1",)
    assert g.check("http://10.4.4.4/").addresses == ("10.4.4.4",)
    monkeypatch.setenv(ENV_WEBHOOK_ALLOWLIST, "not a host!")
    with pytest.raises(ValueError, match="invalid allow-list entry"):
        Guard.from_env()


# --- notations, generated -----------------------------------------------------------------------------------
REFUSED_NETS = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "198.18.0.0/15")]


def notations(ip: ipaddress.IPv4Address) -> st.SearchStrategy[str]:
    """The URL host forms a browser or inet_aton accepts for ``ip``."""
    n = int(ip)
    a, b, c, d = ip.packed
    dotted_forms = [
        str(ip), str(n), hex(n), "0" + oct(n)[2:],
        ".".join("0" + oct(x)[2:] for x in (a, b, c, d)), ".".join(hex(x) for x in (a, b, c, d)),
        f"{a}.{b}.{(c << 8) | d}", f"{a}.{(b << 16) | (c << 8) | d}", f"{hex(a)}.{(b << 16) | (c << 8) | d}",
        f"[::ffff:{ip}]", f"[::ffff:{(a << 8) | b:x}:{(c << 8) | d:x}]", f"[0:0:0:0:0:ffff:{ip}]",
        f"[64:ff9b::{ip}]", f"[2002:{(a << 8) | b:x}:{(c << 8) | d:x}::1]",
    ]
    return st.sampled_from(dotted_forms)


@st.composite
def refused_hosts(draw: st.DrawFn) -> tuple[str, ipaddress.IPv4Address]:
    net = draw(st.sampled_from(REFUSED_NETS))
    ip = ipaddress.IPv4Address(int(net.network_address) + draw(st.integers(0, net.num_addresses - 1)))
    return draw(notations(ip)), ip


@st.composite
def public_hosts(draw: st.DrawFn) -> tuple[str, ipaddress.IPv4Address]:
    ip = ipaddress.IPv4Address(draw(st.integers(0x01000000, 0xDFFFFFFF)))
    assume(refusal_reason(ip) is None)
    return draw(notations(ip).filter(lambda h: not h.startswith(("[64:ff9b", "[2002")))), ip


@settings(max_examples=250, deadline=None)
@given(refused_hosts(), st.sampled_from(["http", "https"]), st.sampled_from(["", ":8080", ":443"]))
def test_generated_internal_notations_are_refused(host_ip: tuple[str, ipaddress.IPv4Address], scheme: str,
                                                  port: str) -> None:
    host, ip = host_ip
    if not host.startswith("["):
        assert parse_ip(host) == ip  # every notation decodes to the same address
    with pytest.raises(UrlRefused):
        guard().check(f"{scheme}://{host}{port}/hook")


@settings(max_examples=150, deadline=None)
@given(public_hosts())
def test_generated_public_notations_are_allowed(host_ip: tuple[str, ipaddress.IPv4Address]) -> None:
    host, ip = host_ip
    target = guard().check(f"https://{host}/hook")
    assert target.addresses == (str(ip),)
