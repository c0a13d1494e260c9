"""A small HTTP/1.1 client for checks and readiness probes (loopback only, always with a timeout)."""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from workshop.env import clock


class NoResponse(Exception):
    """Nothing answered: the message says whether nothing listens or nothing came back in time."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.raw_headers if k.lower() == name.lower()]


def request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None, timeout: float = 5.0,
    context: ssl.SSLContext | None = None,
) -> Response:
    """``context`` for an https:// URL (the API server's own certificate)."""
    with clock.tool_time():
        return _request(url, method, headers, body, timeout, context)


def _request(url: str, method: str, headers: dict[str, str] | None, body: bytes | None, timeout: float,
             context: ssl.SSLContext | None) -> Response:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection = (http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
                                        if parts.scheme == "https" else http.client.HTTPConnection(host, port, timeout=timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
    except ConnectionRefusedError:
        raise NoResponse(f"nothing listens on {host}:{port}") from None
    except TimeoutError:
        raise NoResponse(f"no response from {host}:{port}{path} within {timeout:g} s") from None
    except (http.client.HTTPException, ConnectionError, ssl.SSLError) as exc:
        raise NoResponse(f"the connection to {host}:{port} broke: {exc.__class__.__name__} {exc}".strip()) from None
    finally:
        conn.close()
    raw = list(resp.getheaders())
    merged: dict[str, str] = {}
    for k, v in raw:
        k = k.lower()
        merged[k] = f"{merged[k]}, {v}" if k in merged else v
    return Response(status=resp.status, headers=merged, body=data, raw_headers=raw)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
