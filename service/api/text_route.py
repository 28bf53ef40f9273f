"""Routes that refuse JSON text that is not valid Unicode, once for every field of every body.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`), or carry one as the bytes ED A0 80 (which
Python's JSON decoder lets through); either becomes a string that no database driver can encode, so it
would fail deep in a write. `TextCheckedRoute` looks for such an escape or bytes in the raw body (a byte
search, so valid bodies cost next to nothing) and, only when one is there, walks the decoded body: every
string and key holding a lone surrogate is a 422 naming its field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

SURROGATE_IN_BODY = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")
"""A surrogate spelled as a JSON escape, or encoded as UTF-8 bytes (json.loads decodes bytes with 'surrogatepass')."""
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def lone_surrogates(value: Any, loc: tuple = ("body",)) -> Iterator[tuple[tuple, str]]:
    """Yield (location, text) of every string or object key in decoded JSON `value` holding a lone surrogate."""
    if isinstance(value, str):
        if LONE_SURROGATE.search(value):
            yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if LONE_SURROGATE.search(key):
                yield (*loc, key), key
            yield from lone_surrogates(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from lone_surrogates(item, (*loc, index))


def invalid_text_errors(body: bytes) -> list[dict]:
    """Return pydantic-style errors for every field of a JSON `body` whose text is not valid Unicode ([] if none)."""
    if not SURROGATE_IN_BODY.search(body):
        return []
    try:
        decoded = json.loads(body)
    except ValueError:
        return []  # the route's own parsing reports malformed JSON
    return [{"type": "string_unicode", "loc": loc, "input": None,
             "msg": "text is not valid Unicode: it holds a lone surrogate (such as \\ud800 without its pair); "
                    "send UTF-8 text"}
            for loc, _ in lone_surrogates(decoded)]


class TextCheckedRoute(APIRoute):
    """An APIRoute whose JSON bodies are refused with 422 when any text in them is not valid Unicode."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Return FastAPI's handler, preceded by the Unicode check of the body for POST, PUT and PATCH."""
        handle = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if request.method in BODY_METHODS and "json" in request.headers.get("content-type", "json"):
                errors = invalid_text_errors(await request.body())
                if errors:
                    raise RequestValidationError(errors)
            return await handle(request)

        return checked
