"""The CLI's one-line account of how a forecast's covariates moved."""

from service.cli.models import covariates_caption


def test_caption_names_the_moving_model_or_the_reason_for_holding():
    data = {"covariates_mode": "mixed", "covariates": {
        "militia_share": {"mode": "modelled", "model": "militia", "version": 3, "origin": "2024-05"},
        "seizures_kg": {"mode": "held", "reason": "no registered model of 'seizures_kg' has a served version"}}}
    assert covariates_caption(data) == ("covariates: mixed: militia_share moved by militia v3; seizures_kg held at "
                                        "its last value (no registered model of 'seizures_kg' has a served version)")


def test_caption_without_covariates():
    assert covariates_caption({"covariates_mode": "none", "covariates": {}}) == "covariates: none"
    assert covariates_caption({}) == "covariates: none"
