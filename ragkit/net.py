"""Whether an address stays on this machine: private text goes elsewhere only when the user allowed it."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse


def is_loopback_host(host: str | None) -> bool:
    """True when the host is loopback: `localhost`, a loopback IP, or a name that resolves only to loopback addresses."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is loopback (see `is_loopback_host`)."""
    return is_loopback_host(urlparse(url).hostname)
