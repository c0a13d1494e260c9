"""How requests prove they belong to the room: HTTP basic auth with the room token as the password
(any user name; the learner's name by habit). Go speaks it from the GOPROXY URL's userinfo, pip from
the index URL's; a browser asks for it. The manifest is signed with the token (HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlsplit, urlunsplit

REALM = "workshop room"
SIGNATURE_HEADER = "X-Room-Signature"


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


def header(token: str, user: str = "learner") -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def with_userinfo(url: str, token: str, user: str = "learner") -> str:
    """``url`` with ``user:token@`` in it: how go (GOPROXY) and pip (--index-url) send basic auth."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user, safe='')}:{quote(token, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
