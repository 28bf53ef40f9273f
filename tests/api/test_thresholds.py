"""GET /v1/series/thresholds: the region's own recent quantiles as suggested thresholds, in the indicator's unit."""

from __future__ import annotations

import numpy as np


def store(api, values: list[float], *, kind: str = "count", unit: str = "deaths per month") -> None:
    """Store region AAA and indicator x with `values` as consecutive months from 2020-01."""
    write = api.auth("write")
    assert api.client.post("/v1/regions", json={"regions": [{"id": "AAA", "name": "A", "neighbours": []}]},
                           headers=write).status_code == 200
    assert api.client.post("/v1/indicators", json={"indicators": [{"id": "x", "kind": kind, "unit": unit}]},
                           headers=write).status_code == 200
    rows = [{"region": "AAA", "indicator": "x", "period": f"{2020 + i // 12}-{i % 12 + 1:02d}", "value": v}
            for i, v in enumerate(values)]
    assert api.client.post("/v1/observations", json={"observations": rows}, headers=write).status_code == 200


def test_thresholds_are_the_quantiles_of_the_last_months_in_the_indicators_unit(api):
    values = [1000.0] * 6 + [float(v) for v in range(1, 25)]  # the six old months are outside the 24-month window
    store(api, values)
    answer = api.client.get("/v1/series/thresholds", params={"region": "AAA", "indicator": "x"},
                            headers=api.auth("read"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["unit"], body["kind"], body["months"], body["end"]) == ("deaths per month", "count", 24, "2022-06")
    recent = np.arange(1, 25)
    for suggestion, level in zip(body["suggestions"], (0.5, 0.75, 0.9), strict=True):
        assert suggestion["level"] == level
        assert suggestion["quantile"] == float(np.percentile(recent, 100 * level))
        assert suggestion["threshold"] == int(np.floor(suggestion["quantile"])) + 1  # just above, a whole count

    wider = api.client.get("/v1/series/thresholds", headers=api.auth("read"),
                           params={"region": "AAA", "indicator": "x", "months": 30, "levels": "0.9"}).json()
    assert wider["months"] == 30 and wider["suggestions"][0]["threshold"] == 1000 + 1


def test_share_thresholds_are_the_quantiles_themselves(api):
    store(api, [0.1, 0.2, 0.3, 0.4, 0.5], kind="share", unit="share of territory")
    body = api.client.get("/v1/series/thresholds", params={"region": "AAA", "indicator": "x", "levels": "0.5"},
                          headers=api.auth("read")).json()
    assert body["suggestions"] == [{"level": 0.5, "quantile": 0.3, "threshold": 0.3}]


def test_thresholds_refuse_unknown_series_empty_series_and_bad_levels(api):
    store(api, [3.0, 4.0])
    read = api.auth("read")
    unknown = api.client.get("/v1/series/thresholds", params={"region": "ZZZ", "indicator": "x"}, headers=read)
    assert unknown.status_code == 404 and "ZZZ" in unknown.json()["detail"]
    bad = api.client.get("/v1/series/thresholds", params={"region": "AAA", "indicator": "x", "levels": "0.5,1.5"},
                         headers=read)
    assert bad.status_code == 422 and "(0, 1)" in bad.json()["detail"]
    words = api.client.get("/v1/series/thresholds", params={"region": "AAA", "indicator": "x", "levels": "high"},
                           headers=read)
    assert words.status_code == 422 and "high" in words.json()["detail"]
    write = api.auth("write")
    api.client.post("/v1/indicators", json={"indicators": [{"id": "y", "kind": "count"}]}, headers=write)
    empty = api.client.get("/v1/series/thresholds", params={"region": "AAA", "indicator": "y"}, headers=read)
    assert empty.status_code == 422 and "no observations" in empty.json()["detail"], empty.text
