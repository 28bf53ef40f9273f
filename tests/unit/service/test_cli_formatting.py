"""How the CLI writes numbers: percentages with one decimal (as the page), signed points for differences,
levels rounded like the page's chart, given numbers without float noise."""

import math

import pytest

from service.cli.client import cli_words, option_of
from service.cli.formatting import (
    gate_verdict,
    interval,
    level,
    levels,
    mc_error,
    number,
    percent,
    points,
    quantile_header,
)
from service.cli.models import probability_rows


def test_probabilities_are_percentages_with_one_decimal():
    assert percent(0.123456) == "12.3%" and percent(1.0) == "100.0%" and percent(0) == "0.0%"
    assert percent(None) == "-" and percent(math.nan) == "-"
    assert interval([0.088, 0.18]) == "8.8% to 18.0%" and interval(None) == "-"
    assert points(0.0423) == "+4.2 pts" and points(-0.0051) == "-0.5 pts"
    assert interval([-0.01, 0.05], points) == "-1.0 pts to +5.0 pts"
    assert mc_error(0.00437) == "+-0.4 pts" and mc_error(None) == "-"


@pytest.mark.parametrize(("value", "written"), [
    (3.950000000000003, "4.0"), (0.0, "0"), (0.25, "0.25"), (0.0123, "0.01"), (0.00123, "0.0012"), (17.5, "18"),
    (999.4, "999"), (1234.6, "1,235"), (None, "-"), (math.inf, "-")])
def test_levels_are_rounded_to_what_a_reader_uses(value, written):
    assert level(value) == written


def test_given_numbers_lose_their_float_noise():
    assert number(3.950000000000003) == "3.95" and number(23.0) == "23" and number(0.125) == "0.125"
    assert number(7) == "7" and number(None) == "-"


def test_probability_answers_become_one_row_or_one_per_month():
    within = {"within": True, "horizon": 3, "probability": 0.25, "interval": [0.2, 0.3], "mc_standard_error": 0.01}
    assert probability_rows(within) == [("some month 1..3", 0.25, [0.2, 0.3], 0.01)]
    monthly = {"within": False, "horizon": 2, "probability": [0.1, 0.2], "interval": [[0.0, 0.2], [0.1, 0.3]],
               "mc_standard_error": None}
    assert probability_rows(monthly) == [("month 1", 0.1, [0.0, 0.2], None), ("month 2", 0.2, [0.1, 0.3], None)]


def test_a_column_of_levels_shares_one_number_of_decimals():
    assert levels([3.0, 16.2, None]) == ["3", "16", "-"]
    assert levels([3.04, 7.25]) == ["3.0", "7.2"] and levels([0.25, 0.5]) == ["0.25", "0.50"]
    assert levels([1234.6, 5.0]) == ["1,235", "5"] and levels([None]) == ["-"]


def test_quantile_headers_read_as_percent_levels():
    assert [quantile_header(q) for q in ("0.05", "0.5", "0.95", 0.975, "0.1")] == ["q05", "q50", "q95", "q97.5", "q10"]


def test_a_gate_verdict_names_its_gate_and_thresholds():
    demo = {"max_rhat": 1.05, "min_ess_bulk": 200.0, "max_divergences": 5, "name": "demo gate"}
    assert gate_verdict(True, demo) == "passed the demo gate (R-hat <= 1.05, bulk ESS >= 200, divergences <= 5)"
    assert gate_verdict(False, None) == "failed the gate (thresholds not recorded)"


def test_server_hints_are_written_as_the_command_line_reads_them():
    assert option_of("query.horizon") == "--horizon" and option_of("threshold") == "--threshold"
    assert option_of("body.scenario.2026-01") == "--scenario (2026-01)" and option_of(None) == "request"
    assert cli_words("Pass query.horizon at most 12.") == "Pass --horizon at most 12."
    assert cli_words("List versions with GET /v1/models/{name}/versions.") == \
        "List versions with `fragility models show NAME`."
    assert cli_words("List models with GET /v1/models or create one with POST /v1/models.") == \
        "List models with `fragility models list` or create one with `fragility models create`."


def wide_table():
    from rich.table import Table

    table = Table(title="versions of m")
    for column in ("version", "created (UTC)", "state", "R-hat max", "ESS bulk min", "gate"):
        table.add_column(column)
    verdict = "failed the demo gate (R-hat <= 1.05, bulk ESS >= 200, divergences <= 5): " + "x" * 90 + " END"
    table.add_row("v1", "2026-12-07 04:45", "-", "1.125", "57", verdict)
    return table, verdict


def test_a_piped_table_is_as_wide_as_it_needs_and_nothing_is_cut(capsys):
    from service.cli.common import emit

    table, verdict = wide_table()
    emit({}, False, table)
    printed = capsys.readouterr().out
    assert verdict in printed and "…" not in printed, printed


def test_a_narrow_terminal_gets_one_record_per_row_with_every_value_whole():
    import io

    from rich.console import Console

    from service.cli.common import print_records

    table, verdict = wide_table()
    out = io.StringIO()
    print_records(Console(file=out, width=80), table)
    text = out.getvalue()
    assert "version: v1" in text and "ESS bulk min: 57" in text and "…" not in text, text
    assert verdict.replace(" ", "") in text.replace("\n", "").replace(" ", ""), text
    assert max(map(len, text.splitlines())) <= 80
