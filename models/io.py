"""Posterior I/O: a Fit written to and read from NetCDF (h5netcdf), with its spec, data hash and code version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from models.errors import PosteriorMismatch
from models.fit import Fit
from models.spec import MODEL_VERSION, ModelSpec, spec_id


def save_fit(fit: Fit, path: str | Path) -> None:
    """Write posterior, sample stats and simulation state to NetCDF with spec, hash and version in attrs;
    returns nothing."""
    state = xr.Dataset({k: (tuple(f"{k}_d{i}" for i in range(np.ndim(v))), np.asarray(v))
                        for k, v in fit.state.items()})
    tree = xr.DataTree.from_dict({
        "posterior": fit.posterior["posterior"].to_dataset(),
        "sample_stats": fit.posterior["sample_stats"].to_dataset(),
        "state": state,
    })
    tree.attrs = {
        "spec": fit.spec.to_json(), "spec_id": fit.spec_id, "model_version": MODEL_VERSION,
        "data_hash": fit.data_hash, "regions": json.dumps(fit.regions), "last_period": fit.last_period,
        "info": json.dumps(fit.info), "diagnostics": json.dumps(fit.diagnostics),
    }
    tree.to_netcdf(path, engine="h5netcdf")


def load_fit(path: str | Path, spec: ModelSpec | None = None) -> Fit:
    """Return the Fit stored at `path`; raises PosteriorMismatch if its spec id or model version
    differs from the current code (or from `spec` when given)."""
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        tree = tree.load()
    attrs = dict(tree.attrs)
    for key in ("spec", "spec_id", "model_version", "data_hash"):
        if key not in attrs:
            raise PosteriorMismatch(f"{path} is not a fragility-forecast fit: attribute {key!r} missing")
    if attrs["model_version"] != MODEL_VERSION:
        raise PosteriorMismatch(f"{path} was fitted by model version {attrs['model_version']}, "
                                f"this code is version {MODEL_VERSION}")
    stored = ModelSpec.from_dict(json.loads(attrs["spec"]))
    if spec_id(stored) != attrs["spec_id"]:
        raise PosteriorMismatch(f"{path}: stored spec id {attrs['spec_id']} does not match its spec "
                                f"({spec_id(stored)}); the file was altered or written by other code")
    if spec is not None and spec_id(spec) != attrs["spec_id"]:
        raise PosteriorMismatch(f"{path} holds spec {attrs['spec_id']}, not the requested {spec_id(spec)}")
    state_ds = tree["state"].to_dataset()
    state = {str(k): np.asarray(v.values) for k, v in state_ds.data_vars.items()}
    posterior = xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset(),
                                       "sample_stats": tree["sample_stats"].to_dataset()})
    return Fit(spec=stored, posterior=posterior, data_hash=attrs["data_hash"],
               regions=json.loads(attrs["regions"]), last_period=attrs["last_period"], state=state,
               info=json.loads(attrs["info"]), diagnostics=json.loads(attrs["diagnostics"]))
