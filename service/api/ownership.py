"""Who may change what: a write key changes only the models it created (and cancels only the jobs it queued);
an admin key changes anything. Models made outside the API (the CLI, the demo, before owners were recorded)
have no owner and any write key may change them, as before.
"""

from __future__ import annotations

from service.auth import Principal, scope_allows
from service.errors import AccessDenied


class NotOwner(AccessDenied):
    """The model or job belongs to another API key."""

    hint = "Use the key that created it, or an admin key."


def check_owner(principal: Principal, owner: int | None, what: str) -> None:
    """Return nothing when `principal` may change `what` (owned by key id `owner`, None: nobody); raises
    NotOwner (403) otherwise."""
    if owner is None or principal.key_id == owner or scope_allows(principal.scope, "admin"):
        return
    raise NotOwner(f"{what} belongs to another API key; a write key changes only what it created")
