"""CSV and JSON readers: shape errors are clear and fast; values stay raw for validate_batch."""

from __future__ import annotations

import time

import pytest

from indicators import (
    BatchRejected,
    Catalogue,
    IndicatorKind,
    InputError,
    read_observations_csv,
    read_observations_csv_lines,
    read_observations_json,
    read_regions_json,
    validate_batch,
)

GOOD = "region,indicator,period,value\nIRQ,attacks,2021-01,3\nIRN,attacks,2021-01,0\n"


def test_good_csv_with_bom_and_crlf_keeps_values_as_strings():
    data = ("\ufeff" + GOOD.replace("\n", "\r\n")).encode("utf-8")
    rows = read_observations_csv(data)
    assert rows == [
        {"region": "IRQ", "indicator": "attacks", "period": "2021-01", "value": "3"},
        {"region": "IRN", "indicator": "attacks", "period": "2021-01", "value": "0"},
    ]
    assert read_observations_csv(GOOD) == rows
    assert read_observations_csv(GOOD + "\n\n") == rows  # blank lines skipped


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("region,indicator,month,value\nIRQ,attacks,2021-01,3\n",
         ["'region,indicator,month,value'", "expected exactly"]),
        ("value,region,indicator,period\n", ["'value,region,indicator,period'"]),
        ("region,indicator,period\n", ["(3 columns)"]),
        ("", ["empty"]),
        (b"region,indicator,period,value\nIRQ,attacks,2021-01,\xe9\n", ["not valid UTF-8", "0xe9", "offset 50"]),
        ("region,indicator,period,value\nIRQ,att\x00acks,2021-01,3\n".encode("utf-8"), ["NUL", "offset 37"]),
        ("region,indicator,period,value\nIRQ,att\x00acks,2021-01,3\n", ["NUL"]),
        ("region,indicator,period,value\nIRQ,attacks,2021-01,3\n".encode("utf-16"), ["NUL"]),
    ],
    ids=["wrong-name", "wrong-order", "too-few-columns", "empty", "latin-1", "nul-bytes", "nul-text", "utf-16"],
)
def test_csv_shape_errors_say_what_was_found(data, words):
    with pytest.raises(InputError) as caught:
        read_observations_csv(data)
    assert all(word in caught.value.message for word in words), caught.value.message


def test_rows_with_the_wrong_number_of_fields_are_all_listed():
    data = GOOD + "IRQ,attacks,2021-02\nIRQ,attacks,2021-03,1,extra\nSYR,attacks,2021-01,2\n"
    with pytest.raises(BatchRejected) as caught:
        read_observations_csv(data)
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "row"), (3, "row")]
    assert "found 3" in caught.value.errors[0].reason and "found 5" in caught.value.errors[1].reason


def test_rows_know_the_file_line_they_start_on():
    # header = line 1; the blank line 4 is skipped; a quoted region name spans lines 6-7
    data = GOOD + '\nIRQ,attacks,2021-02,1\n"IR\nQ",attacks,2021-03,bad\nIRN,attacks,2021-02\n'
    with pytest.raises(BatchRejected) as short:
        read_observations_csv_lines(data)
    assert [(e.row, e.line, e.to_dict()["line"]) for e in short.value.errors] == [(4, 8, 8)]
    rows, lines = read_observations_csv_lines(data.rsplit("IRN,attacks,2021-02\n", 1)[0])
    assert lines == [2, 3, 5, 6] and rows[3]["region"] == "IR\nQ"
    catalogue = Catalogue(regions={"IRQ", "IRN"}, indicators={"attacks": IndicatorKind.COUNT})
    with pytest.raises(BatchRejected) as caught:
        validate_batch(rows, catalogue=catalogue)
    located = caught.value.at_lines(lines)
    assert {(e.row, e.line, e.field) for e in located.errors} == {(3, 6, "region"), (3, 6, "value")}
    assert located.message == caught.value.message and "line" not in caught.value.errors[0].to_dict()


def test_a_header_of_a_million_columns_fails_fast_and_briefly():
    data = ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\nIRQ,attacks,2021-01,1\n"
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        read_observations_csv(data)
    assert time.perf_counter() - started < 1.0
    assert "1000000 columns" in caught.value.message and len(caught.value.message) < 300


def test_a_very_wide_data_row_is_one_short_row_error():
    data = GOOD + ",".join(["x"] * 200_000) + "\n"
    with pytest.raises(BatchRejected) as caught:
        read_observations_csv(data)
    assert caught.value.errors[0].row == 2 and "found 200000" in caught.value.errors[0].reason


def test_max_rows_stops_reading():
    with pytest.raises(InputError, match="more than 1"):
        read_observations_csv(GOOD, max_rows=1)


def test_json_readers_accept_both_shapes_and_refuse_others():
    rows = [{"region": "IRQ", "indicator": "attacks", "period": "2021-01", "value": 3}]
    assert read_observations_json('{"observations": [{"region": "IRQ", "indicator": "attacks", '
                                  '"period": "2021-01", "value": 3}]}') == rows
    assert read_observations_json(rows) == rows
    assert (read_regions_json(b'{"about": "x", "regions": [{"id": "A", "neighbours": []}]}')
            == [{"id": "A", "neighbours": []}])
    with pytest.raises(InputError, match="not valid JSON"):
        read_observations_json("[1,")
    with pytest.raises(InputError, match="list of regions"):
        read_regions_json('{"region": []}')


@pytest.mark.parametrize(("text", "words"), [
    ('IRQ,"attacks,2021-02,3\nIRN,attacks,2021-02,0\n', "line 4: a quoted field opened here is never closed"),
    ('IRQ,"attacks"x,2021-02,3\n', "line 4: ',' expected after"),
])
def test_a_broken_quote_is_refused_naming_the_row_and_line(text, words):
    with pytest.raises(BatchRejected) as caught:
        read_observations_csv(GOOD + text)
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "row")]
    assert words in caught.value.errors[0].reason

