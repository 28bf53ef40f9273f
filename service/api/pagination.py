"""One pagination scheme for every list endpoint: `?limit=N` (capped per endpoint) and `?cursor=C`, where C is
the opaque `next_cursor` of the previous page (absent or null: the first page). An answer carries `next_cursor`:
null once the last item was given. Cursors are keyset positions (the last item's sort key), so a page never
repeats or skips an item that existed when the listing began, and reading any page costs the same.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from indicators.errors import InputError

CursorQuery = Annotated[str | None, Query(max_length=500, description=(
    "`next_cursor` of the previous page (leave out for the first page)"))]


class CursorInvalid(InputError):
    """The cursor is not one this listing gave."""

    hint = "Pass the `next_cursor` of the previous page as `cursor`, or leave `cursor` out for the first page."

    def __init__(self) -> None:
        reason = "not a cursor of this listing"
        self.errors = [{"row": None, "field": "query.cursor", "reason": reason}]
        super().__init__(f"cursor: {reason}")


def encode_cursor(position: list[Any]) -> str:
    """Return the opaque cursor of a keyset position (a JSON list)."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """Return the keyset position of `cursor` (None for no cursor); raises InputError naming `cursor` when it is
    not one this endpoint gave (wrong shape or types)."""
    if cursor is None:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        position = None
    if (not isinstance(position, list) or len(position) != len(types)
            or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(position, types, strict=True))):
        raise CursorInvalid()
    return position


def page(items: list[Any], limit: int, position_of) -> tuple[list[Any], str | None]:
    """Return (the first `limit` items, the cursor after them or None) from `items` read with limit + 1."""
    if len(items) <= limit:
        return items, None
    kept = items[:limit]
    return kept, encode_cursor(position_of(kept[-1]))
