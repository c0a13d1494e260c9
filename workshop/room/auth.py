"""How requests prove they belong to the room: HTTP basic auth with the room token as the password
(any user name; the learner's name by habit), which pip sends from the index URL's userinfo and a
browser asks for. Go is the exception: over plain http it refuses to send credentials at all, from
the URL or from GOAUTH ("refusing to pass credentials to insecure URL", cmd/go/internal/web/http.go,
Go 1.26), so the module proxy's address carries the token as its first path part: /go/TOKEN/...
The manifest is signed with the token (HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlsplit, urlunsplit

REALM = "workshop room"
SIGNATURE_HEADER = "X-Room-Signature"
GO_PREFIX = "/go/"


def sign(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(token: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(token, body), signature.strip().lower())


def token_in(authorization: str) -> str:
    """The password of a Basic Authorization header ("" when there is none)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        user_pass = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
    return user_pass.partition(":")[2]


def token_ok(token: str, authorization: str) -> bool:
    given = token_in(authorization)
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def path_token_ok(token: str, path: str) -> bool:
    """Whether a module proxy path (/go/TOKEN/...) carries the room token."""
    given = path[len(GO_PREFIX):].split("/", 1)[0]
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def go_proxy(url: str, token: str) -> str:
    """The GOPROXY value for the room at ``url``."""
    return f"{url.rstrip('/')}{GO_PREFIX}{quote(token, safe='')}"


def header(token: str, user: str = "learner") -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def with_userinfo(url: str, token: str, user: str = "learner") -> str:
    """``url`` with ``user:token@`` in it: how go (GOPROXY) and pip (--index-url) send basic auth."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user, safe='')}:{quote(token, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
