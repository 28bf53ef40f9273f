"""Count model fits: count-specific dims, the log-linear form's save/load, its own errors, compiled-model reuse,
pooled chains (what every family does -- shapes, gaps, diagnostics, save/load, common errors -- is
test_family_contract.py)."""

import numpy as np
import pytest
import xarray as xr

from models import CountModel, Fit, PosteriorMismatch, SpecError
from models.fitting.gate import pool_chains
from models.fitting.sampling import compiled_cache_size


class TestShapes:
    def test_posterior_has_the_forms_region_parameters(self, linear_fit, loglinear_fit):
        post = linear_fit.posterior["posterior"]
        for name in ("a", "lam", "phi", "alpha"):
            assert post[name].dims == ("chain", "draw", "region")
        assert post["lam"].shape == (2, 150, 6)
        assert loglinear_fit.diagnostics["ess_bulk_min"] > 10


class TestSaveLoad:
    def test_round_trip_of_the_loglinear_form_gives_identical_forecasts(self, loglinear_fit, tmp_path):
        fit = loglinear_fit  # the linear form: test_family_contract.py
        path = tmp_path / "fit.nc"
        fit.save(path)
        back = Fit.load(path)
        assert back.spec == fit.spec and back.data_hash == fit.data_hash and back.regions == fit.regions
        a = fit.forecast(horizon=3, draws=200, seed=11).paths
        b = back.forecast(horizon=3, draws=200, seed=11).paths
        np.testing.assert_array_equal(a, b)

    def test_load_refuses_other_model_version(self, linear_fit, tmp_path):
        path = tmp_path / "fit.nc"
        linear_fit.save(path)
        tree = xr.open_datatree(path, engine="h5netcdf").load()
        tree.attrs["model_version"] = "0-old"
        other = tmp_path / "old.nc"
        tree.to_netcdf(other, engine="h5netcdf")
        with pytest.raises(PosteriorMismatch, match="model version"):
            Fit.load(other)

    def test_load_refuses_other_spec(self, linear_fit, tmp_path):
        path = tmp_path / "fit.nc"
        linear_fit.save(path)
        other = CountModel("attacks", form="linear", spillover=False).spec
        with pytest.raises(PosteriorMismatch, match="not the requested"):
            Fit.load(path, spec=other)


class TestErrors:
    def test_unknown_form_and_sampler(self, tiny_panel):
        with pytest.raises(SpecError, match="unknown count form"):
            CountModel("attacks", form="cubic")
        with pytest.raises(SpecError, match="unknown sampler"):
            CountModel("attacks").fit(tiny_panel, sampler="magic")

    def test_spillover_between_non_neighbours(self, linear_fit):
        with pytest.raises(SpecError, match="not a neighbour"):
            linear_fit.spillover("R4", "R1", threshold=5)


def test_compiled_model_is_reused_for_new_data(linear_fit, tiny_panel):
    """A second fit of the same spec and region count swaps data into the cached compiled model."""
    before = compiled_cache_size()
    refit = CountModel("attacks", form="linear").fit(tiny_panel.until("2021-06"), draws=50, tune=50, chains=2, seed=3)
    assert compiled_cache_size() == before
    assert refit.diagnostics["compile_seconds"] < 2.0
    assert refit.last_period == "2021-06"
    assert refit.info["n_obs"] < linear_fit.info["n_obs"]


def test_pooled_chains_add_up_and_forecast(linear_fit, tiny_panel):
    """fit_servable's second run pooled with the first: chains and seconds add, diagnostics are recomputed,
    forecasts still work."""
    more = CountModel("attacks", form="linear").fit(tiny_panel, draws=150, tune=200, chains=2, seed=9)
    pooled = pool_chains([linear_fit, more])
    assert pooled.posterior["posterior"].sizes["chain"] == 4
    assert pooled.diagnostics["chains"] == 4 and pooled.info["sampler"]["chains"] == 4
    # Recomputed over all four chains, not copied from a run. Whether it grows depends on the second
    # run: at 150 draws a stuck chain in it can lower the pool's worst ESS (CI saw 50.6 and 22.4 -> 35.0).
    assert pooled.diagnostics["ess_bulk_min"] not in (linear_fit.diagnostics["ess_bulk_min"],
                                                      more.diagnostics["ess_bulk_min"])
    assert pooled.diagnostics["sampling_seconds"] == pytest.approx(
        linear_fit.diagnostics["sampling_seconds"] + more.diagnostics["sampling_seconds"], abs=0.01)
    assert pooled.forecast(horizon=2, draws=100, seed=1).paths.shape == (100, 2, 6)


def test_pooling_a_run_with_a_copy_of_itself_doubles_the_evidence(linear_fit):
    """Chains that agree add up: twice the same chains give about twice the ESS and twice the divergences."""
    pooled = pool_chains([linear_fit, linear_fit])
    single = linear_fit.diagnostics
    assert pooled.diagnostics["ess_bulk_min"] > 1.5 * single["ess_bulk_min"]
    assert pooled.diagnostics["ess_tail_min"] > 1.5 * single["ess_tail_min"]
    assert pooled.diagnostics["divergences"] == 2 * single["divergences"]
    assert pooled.diagnostics["draws"] == single["draws"] and pooled.diagnostics["chains"] == 2 * single["chains"]


def test_a_reused_compiled_model_draws_what_a_fresh_compile_draws(tiny_panel):
    """The compiled model is reused with new data; its starting point must come from the new data too, so a fit's
    draws do not depend on which fit compiled the model in this process (a backtest's scores would otherwise
    depend on which worker ran which origin after which)."""
    from models.fitting.sampling import clear_compiled_cache

    model = CountModel("attacks")
    clear_compiled_cache()
    model.fit(tiny_panel.until("2021-06"), draws=30, tune=30, chains=1, seed=3, warn=False)
    reused = model.fit(tiny_panel, draws=30, tune=30, chains=1, seed=4, warn=False)
    clear_compiled_cache()
    fresh = model.fit(tiny_panel, draws=30, tune=30, chains=1, seed=4, warn=False)
    assert np.array_equal(reused.posterior["posterior"]["a"].values, fresh.posterior["posterior"]["a"].values)
