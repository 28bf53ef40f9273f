"""The paths export (the hardening issue, item 8) against real `fragility serve` processes, on a version planted
without a fit (tests/planted_version.py: 25 regions x 12 months, grouped paths, NaN and fractional values):

- the content is what the export gave before it was streamed (pandas' CSV of the whole long table; Parquet and NPZ
  as encoded before), for every region and for a subset in the asked order;
- the full export is written once per version next to its paths file and served from that file: a second
  request leaves the file untouched (same inode and mtime);
- beyond FRAGILITY_MAX_CONCURRENT_EXPORTS exports in progress the answer is 429 with Retry-After naming the
  setting, and a client that leaves frees its slot.
"""

from __future__ import annotations

import io
import socket
import time

import numpy as np
import pandas as pd
import pytest

from service.serving.path_export import encoded_paths, long_table
from tests.planted_version import plant_version, planted_forecast

pytestmark = pytest.mark.e2e
PATH = "/v1/models/planted/paths"


@pytest.fixture(scope="module")
def planted(live_server, tmp_path_factory):
    """Return (server, forecast, artifacts dir) for a server whose model `planted` serves 400 paths (three CSV
    pieces, the last one short)."""
    root = tmp_path_factory.mktemp("planted")
    forecast = planted_forecast(n_paths=400)
    url = f"sqlite:///{root / 'fragility.db'}"
    plant_version(url, root / "artifacts", forecast)
    return live_server(url, root / "artifacts"), forecast, root / "artifacts"


def reference_csv(forecast, regions: list[str]) -> bytes:
    """Return the CSV the export gave before it was streamed: pandas' CSV of the whole long table."""
    return long_table(forecast, regions).to_csv(index=False, lineterminator="\n").encode()


def test_the_csv_is_unchanged_for_all_regions_and_for_a_subset_in_the_asked_order(planted):
    server, forecast, _ = planted
    with server.client(server.read_key) as client:
        whole = client.get(PATH)
        subset = client.get(PATH, params={"regions": "R03,R01,R25"})
    assert whole.status_code == 200 and subset.status_code == 200, (whole.text[:300], subset.text[:300])
    assert whole.content == reference_csv(forecast, list(forecast.regions))
    assert subset.content == reference_csv(forecast, ["R03", "R01", "R25"])
    assert whole.headers["content-type"] == "text/csv; charset=utf-8"
    assert whole.headers["content-length"] == str(len(whole.content))
    assert whole.headers["x-paths"] == "400" and whole.headers["x-model-version"] == "1"
    assert whole.headers["content-disposition"] == 'attachment; filename="planted-v1-paths.csv"'
    table = pd.read_csv(io.BytesIO(whole.content))
    assert len(table) == 400 * 12 * 25 and table["path"].is_monotonic_increasing
    assert table.loc[table["region"] == "R25", "value"].isna().all()  # the region never observed: empty values


def test_parquet_and_npz_are_unchanged(planted):
    server, forecast, _ = planted
    with server.client(server.read_key) as client:
        for fmt in ("parquet", "npz"):
            answer = client.get(PATH, params={"format": fmt})
            assert answer.status_code == 200, answer.text[:300]
            assert answer.content == encoded_paths(forecast, list(forecast.regions), fmt), fmt
        arrays = np.load(io.BytesIO(client.get(PATH, params={"format": "npz", "regions": "R02"}).content))
    np.testing.assert_array_equal(arrays["paths"], forecast.paths[:, :, [1]])


def test_an_unknown_region_is_a_422_naming_it(planted):
    server, _, _ = planted
    with server.client(server.read_key) as client:
        answer = client.get(PATH, params={"regions": "R01,NOPE"})
    assert answer.status_code == 422 and "NOPE" in answer.json()["detail"], answer.text


def test_the_full_export_is_written_once_next_to_the_paths_and_served_from_that_file(planted):
    server, forecast, artifacts = planted
    with server.client(server.read_key) as client:
        first = client.get(PATH)
        stored = list((artifacts / "models/planted/job-1-attempt-1/exports").glob("paths-*.csv"))
        assert len(stored) == 1, stored
        before = stored[0].stat()
        second = client.get(PATH)
        subset = client.get(PATH, params={"regions": "R02"})  # a subset is streamed, not stored
    after = stored[0].stat()
    assert first.content == second.content == stored[0].read_bytes()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rebuilt
    assert subset.status_code == 200
    assert sorted(p.name for p in stored[0].parent.iterdir()) == sorted(
        f"{stored[0].stem}.{fmt}" for fmt in ("csv", "npz", "parquet"))  # no leftover .part file, no subset file


def held_export(server) -> socket.socket:
    """Return a socket whose export request was answered (status line read) and which reads nothing more: with a
    small receive buffer, the server cannot finish sending the 7 MB CSV, so the export stays in progress."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = server.base_url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.read_key}\r\n\r\n".encode())
    sock.settimeout(30)
    assert sock.recv(12).startswith(b"HTTP/1.1 200")
    return sock


def test_exports_beyond_the_cap_get_429_with_retry_after_and_a_client_that_leaves_frees_its_slot(live_server,
                                                                                                   tmp_path_factory):
    root = tmp_path_factory.mktemp("capped")
    url = f"sqlite:///{root / 'fragility.db'}"
    plant_version(url, root / "artifacts", planted_forecast(n_paths=1000))  # the demo's 7 MB CSV
    server = live_server(url, root / "artifacts", env={"FRAGILITY_MAX_CONCURRENT_EXPORTS": 1})
    held = held_export(server)
    try:
        with server.client(server.read_key) as client:
            refused = client.get(PATH, params={"regions": "R01"})
            assert refused.status_code == 429, refused.text[:300]
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"] == "ExportsBusy"
            assert "FRAGILITY_MAX_CONCURRENT_EXPORTS" in refused.json()["detail"]
            assert client.get("/v1/models/planted/forecast", params={"region": "R01", "horizon": 1}).status_code == 200
    finally:
        held.close()
    deadline = time.monotonic() + 10
    with server.client(server.read_key) as client:
        while (answer := client.get(PATH, params={"regions": "R01"})).status_code == 429:
            assert time.monotonic() < deadline, "the slot of the client that left was not freed"
            time.sleep(0.2)
    assert answer.status_code == 200 and answer.content.startswith(b"path,draw_group,period,region,value\n")
