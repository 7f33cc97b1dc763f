"""Two guards for the web server: which host names it answers to, and how fast logins may be guessed.

`HostCheck` is ASGI middleware that refuses (403) any request whose `Host` header names a host the
server was not started for, and any request whose `Origin` header comes from such a host. A page on
`http://evil.example` whose name an attacker re-points at 127.0.0.1 (DNS rebinding) reaches the
server with `Host: evil.example`, so it is refused before gradio (whose CORS check trusts the Host
header) sees it. `allowed_hosts` says which names to accept for an address. A server listening on
the network (0.0.0.0, or a LAN address) also accepts any IP address as its host: rebinding needs
a name, and the machine's LAN addresses cannot all be known beforehand.

`LoginThrottle` is the login check given to gradio: one user and password, compared in constant
time; after `max_failures` wrong attempts within `window_s` seconds every attempt, right or wrong,
is refused until the oldest of them is `window_s` old. Guessing is then limited to a few tries a
minute. It counts for the whole server (gradio does not pass the client's address to it), so
someone guessing also locks the right user out for that minute; this app serves one person or a
small team on a trusted network.

Deliberately not here: building the page (ui/app.py).
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_name(value: str) -> str:
    """The host of a Host header or of a URL's authority, lower-case, without port or brackets.

    >>> host_name("Evil.Example:7872"), host_name("[::1]:7860"), host_name("127.0.0.1")
    ('evil.example', '::1', '127.0.0.1')
    """
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value.rstrip(".")


ANY_ADDRESS = "<any IP address>"


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names a server bound to `bind` answers to: its loopback names when it is local;
    also this machine's names and any IP address when it listens on a network.

    >>> sorted(allowed_hosts("127.0.0.1", ["chat.lan"]))
    ['127.0.0.1', '::1', 'chat.lan', 'localhost']
    """
    names = {host_name(n) for n in (*LOOPBACK_NAMES, *extra, bind) if n and n not in WILDCARDS}
    if bind in WILDCARDS or not _is_loopback(bind):
        names |= _machine_names() | {ANY_ADDRESS}
    return frozenset(names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _machine_names() -> set[str]:
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    with contextlib.suppress(OSError):
        names |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    return {n for n in names if n}


class HostCheck:
    """ASGI middleware: only requests for one of `allowed` host names reach `app`."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        names = frozenset(allowed)
        self.any_address = ANY_ADDRESS in names
        self.allowed = frozenset(host_name(a) for a in names if a != ANY_ADDRESS)

    def _allows(self, host: str) -> bool:
        return host in self.allowed or (self.any_address and _is_ip(host))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            host = host_name(headers.get("host", ""))
            origin = headers.get("origin")
            origin_host = host_name(urlsplit(origin).netloc) if origin and origin != "null" else None
            if not self._allows(host) or (origin_host is not None and not self._allows(origin_host)):
                log.warning("Refused a request for host %r from origin %r", headers.get("host"), origin)
                await _refuse(scope, send)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b"This server does not answer to that host name. Open it at the address it printed when it started.\n"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LoginThrottle:
    """gradio's `auth` callable for one login, with guessing limited (see the module docstring)."""

    def __init__(
        self,
        user: str,
        password: str,
        max_failures: int = 5,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user = user.encode()
        self._password = password.encode()
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def __call__(self, username: str, password: str) -> bool:
        with self._lock:
            now = self._clock()
            while self._failures and now - self._failures[0] >= self.window_s:
                self._failures.popleft()
            if len(self._failures) >= self.max_failures:
                log.warning("Login refused: %d wrong attempts in the last %.0f s", len(self._failures), self.window_s)
                return False
            # Both compared, in constant time: the reply time says nothing about which part was wrong.
            right_user = hmac.compare_digest(str(username).encode("utf-8", "surrogatepass"), self._user)
            right_password = hmac.compare_digest(str(password).encode("utf-8", "surrogatepass"), self._password)
            if right_user and right_password:
                return True
            self._failures.append(now)
            log.warning("Wrong login for user %r", str(username)[:40])
            return False
