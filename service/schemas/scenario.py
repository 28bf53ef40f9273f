"""The spillover scenario: what the API and the CLI's `--scenario` accept, checked before any model sees it.

Three shapes set the source's path: values per month `[40, null, 60]` (null = simulated), months and
values `{"2026-01": 40}`, or a factor on the simulated path `{"scale": 2}`. Every number is a finite
JSON number (not a boolean, string or null except where null means "simulated") between 0 and
`MAX_SCENARIO_VALUE`; lists and month maps hold at most `MAX_SCENARIO_STEPS` entries (the longest horizon).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

MAX_SCENARIO_STEPS = 60
"""The longest model horizon (ModelIn.horizon): no scenario can set more months."""
MAX_SCENARIO_VALUE = float(2**53)
"""The largest scenario value or scale factor (as observations: counts up to 2**53 are exact)."""
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

SCENARIO_NUMBER = {"type": "number", "minimum": 0, "maximum": MAX_SCENARIO_VALUE}
SCENARIO_SCHEMA = {
    "anyOf": [
        {"type": "array", "maxItems": MAX_SCENARIO_STEPS, "items": {"anyOf": [SCENARIO_NUMBER, {"type": "null"}]},
         "title": "values per month (null = simulated)"},
        {"type": "object", "properties": {"scale": SCENARIO_NUMBER}, "required": ["scale"],
         "additionalProperties": False, "title": "factor on the simulated path"},
        {"type": "object", "minProperties": 1, "maxProperties": MAX_SCENARIO_STEPS,
         "propertyNames": {"pattern": f"^{MONTH.pattern}$"},
         "additionalProperties": {"anyOf": [SCENARIO_NUMBER, {"type": "null"}]}, "title": "values by month"},
        {"type": "null"},
    ],
    "description": "the source's path: values per month (null = simulated), {period: value}, or {\"scale\": factor}; "
                   f"finite numbers in [0, 2**53], at most {MAX_SCENARIO_STEPS} months",
}


def scenario_number(value: Any, where: str, *, nullable: bool) -> float | None:
    """Return `value` if it is a finite number in [0, MAX_SCENARIO_VALUE] (or None when `nullable`);
    raises ValueError naming `where` and what was sent otherwise."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number{' or null' if nullable else ''}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if not 0 <= value <= MAX_SCENARIO_VALUE:
        raise ValueError(f"{where} must lie in [0, 2**53], got {value!r}")
    return value


def check_scenario(scenario: Any) -> dict[str, float | None] | list[float | None] | None:
    """Return `scenario` unchanged if it has one of the three accepted shapes (see the module);
    raises ValueError saying which entry is wrong and what is accepted."""
    if scenario is None:
        return None
    if isinstance(scenario, list):
        if len(scenario) > MAX_SCENARIO_STEPS:
            raise ValueError(f"has {len(scenario)} values; at most {MAX_SCENARIO_STEPS} months")
        for i, value in enumerate(scenario):
            scenario_number(value, f"value {i}", nullable=True)
        return scenario
    if not isinstance(scenario, dict):
        raise ValueError(f"must be a list of values, {{period: value}} or {{\"scale\": factor}}, got {scenario!r}")
    if "scale" in scenario:
        if len(scenario) > 1:
            raise ValueError("give \"scale\" alone, or months and values without \"scale\"")
        scenario_number(scenario["scale"], "\"scale\"", nullable=False)
        return scenario
    if not scenario:
        raise ValueError("is empty: give {\"scale\": factor} or at least one month and value (or leave it out)")
    if len(scenario) > MAX_SCENARIO_STEPS:
        raise ValueError(f"has {len(scenario)} months; at most {MAX_SCENARIO_STEPS}")
    for key, value in scenario.items():
        if not MONTH.fullmatch(key):
            raise ValueError(f"key {key!r} is neither \"scale\" nor a month YYYY-MM")
        scenario_number(value, f"month {key!r}", nullable=True)
    return scenario


Scenario = Annotated[Any, AfterValidator(check_scenario),
                     WithJsonSchema(SCENARIO_SCHEMA)]
"""A spillover scenario, checked by `check_scenario`; its OpenAPI schema lists the three shapes."""
