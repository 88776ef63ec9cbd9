"""Processes forked by the server (the parser processes) must not keep its network sockets open.

Ingest forks its parser processes when it first needs them, and again when one is replaced (a
parse timeout, a crash): in the middle of serving. A fork copies every open descriptor, so each
worker held the listening socket and every client connection open at that moment. When the
server then closed such a connection (after a 500, or when a keep-alive connection idled out),
no FIN reached the client, since a worker still held the socket: the client's next request on
it waited until its own timeout. Right after each fork, the child's TCP sockets are pointed at
/dev/null (the descriptor numbers stay taken, so nothing later in the child closes a reused one).
"""

from __future__ import annotations

import os
import socket

_installed = False


def _release_inet_sockets() -> None:
    """In a freshly forked child: replace every AF_INET/AF_INET6 socket descriptor with /dev/null."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc (not Linux): leave the child as it is
        return
    devnull = None
    try:
        for fd in fds:
            try:
                probe = socket.socket(fileno=fd)
            except OSError:  # not a socket, or already closed
                continue
            family = probe.family
            probe.detach()  # the probe must not close the descriptor
            if family in (socket.AF_INET, socket.AF_INET6):
                if devnull is None:
                    devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, fd, inheritable=False)
    finally:
        if devnull is not None:
            os.close(devnull)


def install() -> None:
    """Once per process: every fork from now on releases the server's TCP sockets in the child."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_release_inet_sockets)
        _installed = True
