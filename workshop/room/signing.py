"""Seat keys and signatures: HMAC-SHA256 from the standard library.

A learner's seat key is given once, when the room token is accepted at join; every later request of
that learner carries the seat's id and the HMAC of the exact bytes sent, so nobody can post as them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SEAT_HEADER = "X-Workshop-Seat"
SIGNATURE_HEADER = "X-Workshop-Signature"


def new_key() -> str:
    return secrets.token_hex(32)


def new_seat_id() -> str:
    return secrets.token_hex(8)


def sign(key: str, body: bytes) -> str:
    return hmac.new(bytes.fromhex(key), body, hashlib.sha256).hexdigest()


def valid(key: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the seat key's HMAC of ``body`` (compared in constant time)."""
    try:
        return hmac.compare_digest(sign(key, body), signature or "")
    except (ValueError, TypeError):
        return False


def fingerprint(secret: str) -> str:
    """What the room keeps of a learner machine's secret: its hash, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
