"""API keys: generation, hashing, scope order read < write < admin, and who a request acts as."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCOPES: tuple[str, ...] = ("read", "write", "admin")
KEY_PREFIX = "ff_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: an API key (id, prefix, scope) or the anonymous reader (key_id None)."""

    key_id: int | None
    prefix: str | None
    scope: str

    @property
    def anonymous(self) -> bool:
        """Return True when the request carries no key (allowed for reads with public_read)."""
        return self.key_id is None


ANONYMOUS_READER = Principal(key_id=None, prefix=None, scope="read")


def scope_allows(have: str, need: str) -> bool:
    """Return True when scope `have` includes scope `need` (admin implies write implies read)."""
    return SCOPES.index(have) >= SCOPES.index(need)


def hash_key(secret: str) -> str:
    """Return the sha256 hex digest under which the key `secret` is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hashes_match(stored_hash: str, secret: str) -> bool:
    """Return True when `secret` hashes to `stored_hash`, compared in constant time."""
    return hmac.compare_digest(stored_hash.encode(), hash_key(secret).encode())


def new_secret() -> tuple[str, str]:
    """Return a new high-entropy key and its public prefix (the first 8 random characters)."""
    body = secrets.token_urlsafe(32)
    return KEY_PREFIX + body, body[:8]


def bearer_token(authorization: str | None) -> str | None:
    """Return the token of an `Authorization: Bearer KEY` header value, or None when absent/malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
