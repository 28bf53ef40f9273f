"""Reading observation rows and region lists from CSV and JSON text.

These readers only check the *shape* (encoding, header, field count); values stay as they
were written (strings for CSV) and `validate_batch` applies the data rules, so a CSV file and
a JSON body go through exactly the same validation.
"""

from __future__ import annotations

import csv
import io
import json

from indicators.errors import BatchRejected, BatchTooLarge, InputError, RowError
from indicators.validation import FIELDS

CSV_HEADER: tuple[str, ...] = FIELDS
"""The required CSV header: region,indicator,period,value."""

MAX_HEADER_CHARS = 1_000
"""A header line longer than this cannot be the four-column header; it is refused before parsing."""

_CSV_HINT = "Send a UTF-8 CSV whose first line is exactly: region,indicator,period,value"


def decode_text(data: bytes | str, *, what: str = "input") -> str:
    """Return `data` as text: bytes must be UTF-8 (a leading BOM is dropped); NUL characters are refused.

    Raises
    ------
    InputError
        If the bytes are not valid UTF-8 (the offset and byte are named) or contain a NUL.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise InputError(
                f"{what} contains a NUL byte at offset {nul}: not a text file (UTF-16 or binary?)", hint=_CSV_HINT
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            raise InputError(
                f"{what} is not valid UTF-8: byte 0x{bad} at offset {exc.start} ({exc.reason}); save it as UTF-8",
                hint=_CSV_HINT,
            ) from None
    elif isinstance(data, str):
        text = data[1:] if data.startswith("\ufeff") else data
        nul = text.find("\x00")
        if nul >= 0:
            raise InputError(f"{what} contains a NUL character at offset {nul}", hint=_CSV_HINT)
    else:
        raise InputError(f"{what} must be bytes or str, got {type(data).__name__}")
    return text


def _describe_header(cells: list[str]) -> str:
    """Return a short description of a header that was found, for error messages."""
    shown = ",".join(cells[:6])
    if len(shown) > 120:
        shown = shown[:117] + "..."
    plural = "s" if len(cells) != 1 else ""
    extra = f" ... ({len(cells)} columns)" if len(cells) > 6 else f" ({len(cells)} column{plural})"
    return repr(shown) + extra


def read_observations_csv(data: bytes | str, *, max_rows: int | None = None) -> list[dict]:
    """Return the data rows of an observations CSV as dicts {region, indicator, period, value} (raw strings).

    The first line must be exactly ``region,indicator,period,value`` (spaces around names are
    ignored). Blank lines are skipped; the row index of errors (here and in `validate_batch`)
    is the 0-based index of the data row, not counting the header or blank lines; errors found here
    also carry the file line where the row starts (`RowError.line`; see `read_observations_csv_lines`).

    Raises
    ------
    InputError
        Bad encoding, NUL bytes, missing/wrong/absurdly wide/malformed header, or a malformed CSV line.
    BatchTooLarge
        More than `max_rows` rows (as for JSON batches).
    BatchRejected
        With one RowError (field "row") per data row that does not have exactly 4 fields, and one for
        the row where a quote breaks the file (unterminated, or text after a closing quote).
    """
    return read_observations_csv_lines(data, max_rows=max_rows)[0]


def read_observations_csv_lines(data: bytes | str, *, max_rows: int | None = None) -> tuple[list[dict], list[int]]:
    """Return (rows, lines): the rows of `read_observations_csv` and, for each, the file line where it starts.

    The header is line 1; a quoted field holding newlines makes its row span several lines (the first is
    given). `BatchRejected.at_lines(lines)` puts these lines on the row errors of a later `validate_batch`.
    Raises as `read_observations_csv`.
    """
    text = decode_text(data, what="CSV")
    first_newline = text.find("\n")
    first_line = text if first_newline < 0 else text[:first_newline]
    if len(first_line) > MAX_HEADER_CHARS:
        columns = first_line.count(",") + 1
        raise InputError(
            f"CSV header is {len(first_line)} characters long with about {columns} columns; "
            f"expected exactly region,indicator,period,value",
            hint=_CSV_HINT,
        )
    return _read_rows(csv.reader(io.StringIO(text, newline=""), strict=True), max_rows)


def _read_header(reader) -> None:
    """Return nothing once the header is read and checked; raises InputError for a missing, malformed or wrong one."""
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"CSV header is malformed: {exc}", hint=_CSV_HINT) from None
    if header is None or not any(cell.strip() for cell in header):
        raise InputError("CSV is empty: expected the header region,indicator,period,value", hint=_CSV_HINT)
    if [cell.strip() for cell in header] != list(CSV_HEADER):
        raise InputError(
            f"CSV header is {_describe_header(header)}; expected exactly region,indicator,period,value",
            hint=_CSV_HINT,
        )


def _read_rows(reader, max_rows: int | None) -> tuple[list[dict], list[int]]:
    """Return the dict rows read from a csv.reader positioned at the header, and the line where each starts."""
    rows: list[dict] = []
    lines: list[int] = []
    errors: list[RowError] = []
    _read_header(reader)
    start = reader.line_num + 1
    try:
        while True:
            start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                break
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            index = len(rows)
            if max_rows is not None and index >= max_rows:
                raise BatchTooLarge(f"batch has more than {max_rows} rows (CSV data rows); at most {max_rows} are "
                                    "accepted per batch: split it into smaller files")
            lines.append(start)
            if len(cells) != 4:
                errors.append(RowError(index, "row", f"expected 4 fields, found {len(cells)}", line=start))
                rows.append({})
                continue
            rows.append({"region": cells[0], "indicator": cells[1], "period": cells[2], "value": cells[3]})
    except csv.Error as exc:
        errors.append(RowError(len(rows), "row", _malformed_line_reason(start, reader.line_num, exc), line=start))
        raise BatchRejected(errors, "CSV rejected: it is malformed (a quote problem); nothing was stored") from None
    if errors:
        raise BatchRejected(
            errors, f"CSV rejected: {len(errors)} row(s) with the wrong number of fields; nothing was stored"
        )
    return rows, lines


def _malformed_line_reason(first_line: int, last_line: int, exc: csv.Error) -> str:
    """Return why the CSV record starting on `first_line` cannot be read (an unterminated quote, a stray one)."""
    if "unexpected end of data" in str(exc):
        return (f"line {first_line}: a quoted field opened here is never closed (unterminated quote; the file "
                f"ends at line {last_line}); close the quote or remove it")
    return f"line {last_line}: {exc}; a quoted field must be followed by a comma or the end of the line"


def _load_json(data: bytes | str | list | dict, what: str) -> object:
    """Return parsed JSON (already-parsed lists/dicts pass through)."""
    if isinstance(data, (list, dict)):
        return data
    text = decode_text(data, what=what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError(f"{what} is nested too deeply") from None


def _json_list(data: bytes | str | list | dict, key: str, items: str) -> list:
    """Return the list of a JSON document that is that list or {key: list}; raises InputError naming both shapes."""
    doc = _load_json(data, f"{key} JSON")
    if isinstance(doc, dict):
        doc = doc.get(key)
    if not isinstance(doc, list):
        raise InputError(f'{key} JSON must be a list of {items} or {{"{key}": [{items}]}}')
    return doc


def read_observations_json(data: bytes | str | list | dict) -> list[dict]:
    """Return the observation rows of a JSON document: a list of rows or {"observations": [...]}.

    Values are kept as they were written; `validate_batch` checks them. Raises InputError if the text is not
    JSON of one of those two shapes.
    """
    return _json_list(data, "observations", "rows")


def read_regions_json(data: bytes | str | list | dict) -> list[dict]:
    """Return the region dicts of a JSON document: a list of regions or {"regions": [...]}.

    The list is not validated here; pass it to `validate_regions`. Raises InputError if the text is not JSON
    of one of those two shapes.
    """
    return _json_list(data, "regions", "regions")
