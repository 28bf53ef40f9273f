"""The HTTP side of .ci/docker-smoke and .ci/compose-check, run INSIDE a container of the image.

    python - seed URL KEY         # store a tiny panel, create model `smoke`, fit it through the job worker
    python - fit URL KEY          # fit `smoke` once more (a new version)
    python - check URL KEY [N]    # model `smoke` serves version N (default 1) and answers a forecast from it

Standard library only (plus the image's own `indicators` for the synthetic panel); prints one JSON line
and exits non-zero on any failure.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

MODEL = {"name": "smoke", "family": "count", "indicator": "attacks", "regions": [], "covariates": [],
         "spillover": True, "horizon": 6,
         "sampler": {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1}}


def call(url: str, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """Return (status, JSON body) of one request."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def expect(status: int, body: dict, wanted: int, what: str) -> dict:
    """Return body if status is the wanted one; otherwise exit naming what failed."""
    if status != wanted:
        sys.exit(f"{what}: HTTP {status} (wanted {wanted}): {json.dumps(body)[:2000]}")
    return body


def seed(url: str, key: str) -> dict:
    """Store the panel, create the model, fit it; return the finished job."""
    from indicators import simulate_count_panel

    panel, _ = simulate_count_panel(4, 60, seed=3, graph="ring")
    regions = [{"id": r["id"], "name": r["name"], "neighbours": list(r["neighbours"])} for r in panel.region_dicts]
    expect(*call(url, key, "POST", "/v1/regions", {"regions": regions}), 200, "POST /v1/regions")
    indicator = {"id": "attacks", "kind": "count", "unit": "events", "description": "synthetic"}
    expect(*call(url, key, "POST", "/v1/indicators", {"indicators": [indicator]}), 200, "POST /v1/indicators")
    rows = [{"region": r.region, "indicator": r.indicator, "period": r.period, "value": float(r.value)}
            for r in panel.to_frame().itertuples()]
    expect(*call(url, key, "POST", "/v1/observations", {"observations": rows}), 200, "POST /v1/observations")
    expect(*call(url, key, "POST", "/v1/models", MODEL), 201, "POST /v1/models")
    return fit(url, key)


def fit(url: str, key: str) -> dict:
    """Queue a fit of `smoke` and return the job once it succeeded; exit if it failed."""
    job_id = expect(*call(url, key, "POST", "/v1/models/smoke/fit"), 202, "POST /v1/models/smoke/fit")["job_id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = expect(*call(url, key, "GET", f"/v1/jobs/{job_id}"), 200, "GET /v1/jobs/ID")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            if job["status"] != "succeeded":
                sys.exit(f"fit job ended {job['status']}: {json.dumps(job)[:3000]}")
            return job
        time.sleep(1)
    sys.exit(f"fit job {job_id} did not end within 600 s")


def check(url: str, key: str, version: int = 1) -> dict:
    """Return the model and a forecast if `smoke` serves `version` and answers from it; exit otherwise."""
    model = expect(*call(url, key, "GET", "/v1/models/smoke"), 200, "GET /v1/models/smoke")
    if model.get("served_version") != version:
        sys.exit(f"model smoke serves {model.get('served_version')!r}, not version {version}")
    forecast = expect(*call(url, key, "GET", "/v1/models/smoke/forecast?region=R02&horizon=3"), 200,
                      "GET /v1/models/smoke/forecast")
    if forecast.get("version") != version:
        sys.exit(f"forecast from version {forecast.get('version')!r}")
    return {"served_version": model["served_version"], "forecast_version": forecast["version"]}


def main(argv: list[str]) -> None:
    """Run the mode named in argv; print its result as one JSON line."""
    mode, url, key, *rest = argv
    if mode == "check":
        result = check(url, key, *(int(v) for v in rest))
    else:
        result = seed(url, key) if mode == "seed" else fit(url, key)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
