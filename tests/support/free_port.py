"""A TCP port free on this machine now, for the rendezvous of a multi-process test (no fixed port two launches could
both want)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the operating system has just handed out and released on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_args(kind: str) -> list[str]:
    """``launch --main-process-port <free port> KIND``: the start of an ``unlearn launch`` command line."""
    return ["launch", "--main-process-port", str(free_port()), kind]
