"""`--scenario` of the spillover command: key=value forms and JSON, and clear errors for anything else."""

import pytest
import typer

from service.cli.models import parse_scenario


@pytest.mark.parametrize(("text", "expected"), [
    ("scale=2", {"scale": 2.0}),
    (" 2026-01=40, 2026-02=60 ", {"2026-01": 40.0, "2026-02": 60.0}),
    ('{"scale": 2}', {"scale": 2}),
    ("[40, null, 60]", [40, None, 60]),
])
def test_scenario_forms(text, expected):
    assert parse_scenario(text) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("scale=x", "'scale=x' is not key=number"),
    ("2026-01", "'2026-01' is not key=number"),
    ("=3", "'=3' is not key=number"),
    ("scale=2,2026-01=4", "scale=F alone"),
    ("{scale: 2}", "not valid JSON"),
    ("scale=nan", "finite"),
    ("2026-01=inf", "finite"),
    ('{"scale": "x"}', '"scale" must be a number'),
    ('{"scale": true}', '"scale" must be a number'),
    ("[1, NaN]", "finite"),
    ("2026-1=4", "YYYY-MM"),
    ("scale=-2", "[0, 2**53]"),
])
def test_bad_scenarios_say_what_is_accepted(text, words):
    with pytest.raises(typer.BadParameter) as caught:
        parse_scenario(text)
    assert words in str(caught.value) and "scale=2" in str(caught.value)
