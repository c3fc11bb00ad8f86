"""Which webhook URLs Quorum calls: never link-local or cloud metadata addresses.

A webhook URL is chosen by a customer; without these rules it would let anyone make
Quorum's servers call their cloud's metadata service (and read its credentials) or
other internal endpoints. The checks run when a subscription is created and again
on every attempt, against each address the host name resolves to then (so a DNS
change cannot sneak a refused address in later).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

URL_MAX = 2048

# Refused always: link-local (169.254.169.254 is the metadata service of AWS, GCP,
# Azure, ...), the metadata addresses that are not link-local, and addresses that
# are no destination at all.
_ALWAYS_REFUSED = [
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host
        "::/128",
        "224.0.0.0/4",  # multicast
        "ff00::/8",
        "255.255.255.255/32",
    )
]

_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

# The NAT64 prefix embeds an IPv4 address that the network may translate to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for, if any (mapped or NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refused_address(address: IPAddress, allow_private: bool) -> str | None:
    """Why Quorum never calls this address, or None when it may.

    Loopback and private networks are refused too unless `allow_private` (local
    development, or a deployment whose receivers live inside its own network).
    """
    for candidate in {address, _embedded_ipv4(address)}:
        if any(candidate in network for network in _ALWAYS_REFUSED):
            return f"{address} is a link-local, metadata or non-routable address"
        if not allow_private and not candidate.is_global:
            return f"{address} is a loopback, private or reserved address"
    return None


def refused_host_name(host: str) -> str | None:
    """Why a host name is refused before it is even resolved, or None."""
    name = host.rstrip(".").lower()
    if name in _METADATA_NAMES:
        return f"{host} is a cloud metadata service"
    return None


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, allow_private: bool) -> str | None:
    """What is wrong with a webhook URL as written (before any resolution), or None."""
    if not url:
        return "is required"
    if len(url) > URL_MAX:
        return f"must be at most {URL_MAX} characters"
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"is not a URL ({error})"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials; the signature authenticates Quorum"
    if port == 0:
        return "must not use port 0"
    if any(c.isspace() for c in url):
        return "must not contain whitespace"
    host = parts.hostname
    literal = ip_literal(host)
    if literal is not None:
        return refused_address(literal, allow_private)
    return refused_host_name(host)
