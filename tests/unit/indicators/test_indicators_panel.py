"""Panel: gaps stay NaN, region order kept, until/select_regions, content hash, real UCDP data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators import (
    Catalogue,
    InputError,
    Panel,
    PeriodError,
    UnknownIndicator,
    UnknownRegion,
    load_demo_regions,
    read_observations_csv,
    validate_batch,
)

REGIONS = [
    {"id": "A", "name": "Alpha", "neighbours": ["B"]},
    {"id": "B", "name": "Beta", "neighbours": ["A", "C"]},
    {"id": "C", "name": "Gamma", "neighbours": ["B"]},
]
UCDP = Path(__file__).resolve().parents[4] / "shared" / "data" / "ucdp-state-based-deaths-country-month.csv"


def frame() -> pd.DataFrame:
    """Return observations with a gap in A (2020-02) and nothing at all for C."""
    return pd.DataFrame(
        [
            ("A", "attacks", "2020-01", 0),
            ("A", "attacks", "2020-03", 5),
            ("B", "attacks", "2020-02", 2.0),
            ("B", "attacks", "2020-04", 1),
            ("B", "share", "2020-02", 0.5),
        ],
        columns=["region", "indicator", "period", "value"],
    )


def test_missing_months_are_nan_not_zero_and_regions_without_data_are_kept():
    panel = Panel.from_frame(frame(), regions=REGIONS)
    assert panel.regions == ["A", "B", "C"]
    assert panel.periods == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert panel.indicators == ["attacks", "share"]
    attacks = panel.values("attacks")
    np.testing.assert_array_equal(attacks[0], [0.0, np.nan, 5.0, np.nan])  # a real 0, then a gap
    assert np.isnan(attacks[2]).all()
    assert attacks.dtype == float
    assert panel.has("share") and not panel.has("deaths")


def test_values_is_a_copy_and_unknown_indicator_names_what_is_held():
    panel = Panel.from_frame(frame(), regions=REGIONS)
    panel.values("attacks")[0, 0] = 99
    assert panel.values("attacks")[0, 0] == 0
    with pytest.raises(UnknownIndicator, match="holds: attacks, share"):
        panel.values("deaths")


def test_graph_accessors():
    panel = Panel.from_frame(frame(), regions=REGIONS, normalise="source")
    assert panel.normalise == "source"
    assert panel.neighbours("B") == ["A", "C"]
    np.testing.assert_allclose(panel.weights().sum(axis=1), [1, 1, 1])
    np.testing.assert_allclose(panel.weights("target").sum(axis=0), [1, 1, 1])
    assert panel.region_dicts[1] == {"id": "B", "name": "Beta", "neighbours": ["A", "C"]}
    with pytest.raises(UnknownRegion):
        panel.neighbours("Z")


def test_until_keeps_the_start_and_drops_later_months():
    panel = Panel.from_frame(frame(), regions=REGIONS)
    cut = panel.until("2020-02")
    assert cut.periods == ["2020-01", "2020-02"]
    np.testing.assert_array_equal(cut.values("attacks")[1], [np.nan, 2.0])
    assert panel.until("2030-01") is panel
    with pytest.raises(PeriodError, match="before the panel start"):
        panel.until("2019-12")


def test_select_regions_keeps_order_and_drops_outside_edges():
    panel = Panel.from_frame(frame(), regions=REGIONS)
    sub = panel.select_regions(["B", "A"])
    assert sub.regions == ["B", "A"]
    assert sub.neighbours("B") == ["A"]
    np.testing.assert_array_equal(sub.values("attacks")[1], panel.values("attacks")[0])
    only_a = panel.select_regions(["A"])
    assert only_a.periods == ["2020-01", "2020-02", "2020-03"]  # trimmed to A's observed span
    with pytest.raises(UnknownRegion, match="Z"):
        panel.select_regions(["A", "Z"])


def test_content_hash_ignores_row_order_and_number_spelling():
    df = frame()
    first = Panel.from_frame(df, regions=REGIONS).content_hash()
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["value"] = shuffled["value"].astype(object).map(lambda v: float(v) if v != 0 else 0)
    assert Panel.from_frame(shuffled, regions=REGIONS).content_hash() == first
    assert Panel.from_frame(df, regions=list(reversed(REGIONS))).content_hash() == first
    changed = df.copy()
    changed.loc[1, "value"] = 6
    assert Panel.from_frame(changed, regions=REGIONS).content_hash() != first
    assert len(first) == 64


def test_to_frame_round_trips_observed_cells_only():
    panel = Panel.from_frame(frame(), regions=REGIONS)
    out = panel.to_frame()
    assert list(out.columns) == ["region", "indicator", "period", "value"]
    assert len(out) == 5
    again = Panel.from_frame(out, regions=panel.region_dicts)
    assert again.content_hash() == panel.content_hash() and again.periods == panel.periods


def test_nan_values_are_missing_and_bad_frames_are_refused():
    df = pd.concat([frame(), pd.DataFrame([("C", "attacks", "2020-03", np.nan)], columns=frame().columns)])
    assert np.isnan(Panel.from_frame(df, regions=REGIONS).values("attacks")[2]).all()
    with pytest.raises(UnknownRegion, match="Q"):
        Panel.from_frame(pd.concat([frame(), pd.DataFrame([("Q", "attacks", "2020-01", 1)], columns=frame().columns)]),
                         regions=REGIONS)
    with pytest.raises(InputError, match="duplicate"):
        Panel.from_frame(pd.concat([frame(), frame().iloc[:1]]), regions=REGIONS)
    with pytest.raises(InputError, match="lacks column"):
        Panel.from_frame(frame().drop(columns="period"), regions=REGIONS)
    with pytest.raises(PeriodError):
        Panel.from_frame(frame().assign(period="2020-1"), regions=REGIONS)


def test_from_observations_matches_from_frame():
    catalogue = Catalogue(regions={"A", "B", "C"}, indicators={"attacks": "count", "share": "share"})
    observations = validate_batch(frame().to_dict("records"), catalogue=catalogue)
    assert (Panel.from_observations(observations, regions=REGIONS).content_hash()
            == Panel.from_frame(frame(), regions=REGIONS).content_hash())


@pytest.mark.skipif(not UCDP.exists(), reason="shared UCDP data not present")
def test_real_ucdp_series_load_with_pse_all_missing():
    catalogue = Catalogue(regions={r["id"] for r in load_demo_regions()}, indicators={"ged_deaths_sb": "count"})
    observations = validate_batch(read_observations_csv(UCDP.read_bytes()), catalogue=catalogue)
    panel = Panel.from_observations(observations, regions=load_demo_regions())
    values = panel.values("ged_deaths_sb")
    assert panel.periods[0] == "1990-01" and panel.periods[-1] == "2021-12" and len(panel.periods) == 384
    assert int((~np.isnan(values)).sum()) == len(observations) == 9090
    assert np.isnan(values[panel.region_index("PSE")]).all()
    assert np.nanmax(values) > 19_000
