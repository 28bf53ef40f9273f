"""API key records: create, find by secret, revoke, list. Only hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from indicators.errors import InputError
from service.auth import SCOPES, hash_key, hashes_match, new_secret
from service.db.tables import ApiKey
from service.errors import NotFound


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never the secret nor its hash."""

    id: int
    prefix: str
    scope: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    def to_dict(self) -> dict:
        """Return the key's public fields as a JSON-ready dict."""
        return {"id": self.id, "prefix": self.prefix, "scope": self.scope, "label": self.label,
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.prefix, row.scope, row.label, row.created_at, row.revoked_at)


def create_key(*, session: Session, scope: str, label: str | None = None) -> tuple[KeyInfo, str]:
    """Return the new key's info and its secret (shown once; only its sha256 is stored).

    Raises InputError for an unknown scope.
    """
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}", hint=f"Use one of: {', '.join(SCOPES)}.")
    secret, prefix = new_secret()
    row = ApiKey(prefix=prefix, key_hash=hash_key(secret), scope=scope, label=label,
                 created_at=datetime.now(UTC), revoked_at=None)
    session.add(row)
    session.commit()
    return _info(row), secret


def find_active_key(*, session: Session, secret: str) -> KeyInfo | None:
    """Return the active (not revoked) key whose secret is `secret`, or None."""
    row = session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not hashes_match(row.key_hash, secret):
        return None
    return _info(row)


def revoke_key(*, session: Session, prefix_or_id: str) -> KeyInfo:
    """Return the key identified by its prefix, numeric id or full secret, now revoked.

    Raises NotFound when no key matches, InputError when a prefix matches several keys.
    """
    conditions = [ApiKey.prefix == prefix_or_id, ApiKey.key_hash == hash_key(prefix_or_id)]
    if prefix_or_id.isdigit():
        conditions.append(ApiKey.id == int(prefix_or_id))
    rows = session.execute(select(ApiKey).where(or_(*conditions))).scalars().all()
    if not rows:
        raise NotFound(f"no API key with prefix or id {prefix_or_id!r}",
                       hint="List keys with `fragility keys list`.")
    if len(rows) > 1:
        raise InputError(f"{len(rows)} keys match {prefix_or_id!r}", hint="Revoke by numeric id instead.")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.commit()
    return _info(row)


def list_keys(*, session: Session) -> list[KeyInfo]:
    """Return every key (active and revoked), oldest first."""
    return [_info(row) for row in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()]
