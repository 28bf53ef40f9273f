"""What a fit answers, by joint simulation: a fit's forecast simulated (simulation.py) into joint paths
(paths.py: Forecast), covariates moved forward (covariates.py), the two uncertainties of a probability
(uncertainty.py), where a question's forecasts come from (sources.py: FitSource, or the service's cache), the
recipes of the questions (events.py: spillover_of, probability_of) and their typed answers (answers.py).

It reads a fit through what it uses of it (spec, samples, state, regions; models.fitting.fit.Fit is one) and
imports only models.core: fitting sits above it and calls it (Fit.forecast, Fit.spillover)."""
