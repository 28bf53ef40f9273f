"""The artifact store on a local directory, on memory:// and on a real S3 server process (moto): files go in
and come out checked against their sha256; a missing or corrupt file is named by its key, never by the store's
location or credentials. No fits here (tests/integration/test_object_store_service.py runs them).
"""

from __future__ import annotations

import json
import pickle
import uuid

import pytest

from service.errors import ArtifactCorrupt, ArtifactMissing
from service.executors import InProcessExecutor, LocalExecutor, make_executor
from service.serving.artifacts import ArtifactStore, attempt_prefix, file_sha256, redacted, settings_store
from service.settings import Settings
from tests.object_store import SECRET_KEY, s3_server


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """Return a running moto S3 server (module scope)."""
    with s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(params=["file", "memory", "s3"])
def store(request, tmp_path, s3) -> ArtifactStore:
    """Return an empty store of each kind: a plain directory path, memory:// and s3://bucket/prefix."""
    if request.param == "file":
        return ArtifactStore(tmp_path / "artifacts")
    if request.param == "memory":
        return ArtifactStore(f"memory://fragility-{uuid.uuid4().hex}")
    bucket = s3.bucket(f"artifacts-{uuid.uuid4().hex[:12]}")
    return ArtifactStore(f"{bucket}/deploy/prod", s3.options)


def test_a_file_put_comes_back_checked_and_a_store_pickles_to_its_url(store, tmp_path):
    local = tmp_path / "posterior.nc"
    local.write_bytes(b"posterior bytes " * 1000)
    key = f"{attempt_prefix('m', 7, 1)}/posterior.nc"
    digest = store.put(local, key, what="posterior")
    assert digest == file_sha256(local) and key == "models/m/job-7-attempt-1/posterior.nc"
    store.verify(key, digest, what="posterior of m v1")
    with store.local_copy(key, digest, what="posterior of m v1") as copy:
        assert copy.read_bytes() == local.read_bytes()
    revived = pickle.loads(pickle.dumps(store))
    assert revived.url == store.url and revived.read_bytes(key) == local.read_bytes()


def test_a_missing_or_corrupt_file_is_named_by_its_key_not_the_store_location(store, tmp_path):
    local = tmp_path / "paths.npz"
    local.write_bytes(b"paths " * 500)
    key = "models/m/job-1-attempt-1/paths.npz"
    digest = store.put(local, key, what="forecast paths")
    store.write_bytes(key, b"paths " * 499 + b"XXXXXX")
    for check in (lambda: store.verify(key, digest, what="forecast paths of m v1"),
                  lambda: store.local_copy(key, digest, what="forecast paths of m v1").__enter__()):
        with pytest.raises(ArtifactCorrupt) as corrupt:
            check()
        message = corrupt.value.message
        assert message.startswith(f"forecast paths of m v1 file {key} is corrupt"), message
        assert str(tmp_path) not in message and "s3://" not in message and "127.0.0.1" not in message
    store.remove(key)
    with pytest.raises(ArtifactMissing, match=f"forecast paths of m v1 file {key} is missing"):
        store.verify(key, digest, what="forecast paths of m v1")
    with pytest.raises(ArtifactMissing):
        store.local_copy(key, digest, what="forecast paths of m v1").__enter__()


def test_a_legacy_absolute_path_is_named_by_its_file_name_only(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    with pytest.raises(ArtifactMissing) as missing:
        store.verify(str(tmp_path / "elsewhere" / "posterior.nc"), "0" * 64, what="posterior of m v1")
    assert "posterior.nc" in missing.value.message and str(tmp_path) not in missing.value.message


def test_settings_read_the_store_url_and_its_json_options_from_the_environment(monkeypatch, s3):
    monkeypatch.setenv("FRAGILITY_ARTIFACTS", "s3://bucket/prefix")
    monkeypatch.setenv("FRAGILITY_ARTIFACTS_OPTIONS", json.dumps(s3.options))
    store = settings_store(Settings())
    assert store.url == "s3://bucket/prefix" and store.options == s3.options and store.protocol == "s3"
    assert not store.is_local and not store.in_process_only
    assert redacted(f"s3://user:{SECRET_KEY}@bucket/prefix?token=x") == "s3://bucket/prefix"
    assert redacted("/srv/artifacts") == "/srv/artifacts"


def test_memory_artifacts_run_tasks_in_this_process_and_refuse_a_dask_cluster(tmp_path):
    executor = make_executor(Settings(artifacts="memory://fragility-tests"))
    try:
        assert isinstance(executor, InProcessExecutor)
        assert executor.submit(sum, [1, 2]).result() == 3
    finally:
        executor.close()
    local = make_executor(Settings(artifacts=tmp_path / "artifacts"))
    try:
        assert isinstance(local, LocalExecutor)
    finally:
        local.close()
    with pytest.raises(Exception, match="memory://, which only this process sees"):
        make_executor(Settings(artifacts="memory://x", dask_scheduler="tcp://127.0.0.1:1"))
