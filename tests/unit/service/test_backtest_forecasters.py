"""A backtest job scores the model as configured: its covariates, and the covariates' own models where served."""

from service.jobs.tasks import backtest_forecasters

CONFIG = {"family": "count", "indicator": "attacks", "covariates": ["militia_share", "seizures_kg"],
          "spillover": True, "normalise": "target",
          "sampler": {"method": "nutpie", "draws": 100, "tune": 100, "chains": 1, "seed": 1}}


def test_model_and_twin_carry_the_covariates_and_their_families():
    forecasters = backtest_forecasters(CONFIG, {"militia_share": "share"})
    assert set(forecasters) == {"zero", "persistence", "bootstrap", "model", "no_spillover"}
    for name in ("model", "no_spillover"):
        forecaster = forecasters[name]
        assert dict(forecaster.model_options)["covariates"] == ("militia_share", "seizures_kg")
        assert forecaster.covariate_families == (("militia_share", "share"),)
    assert forecasters["model"].spillover and not forecasters["no_spillover"].spillover


def test_without_served_covariate_models_every_covariate_is_held():
    forecaster = backtest_forecasters(CONFIG)["model"]
    assert forecaster.covariate_families == () and dict(forecaster.model_options)["covariates"]
