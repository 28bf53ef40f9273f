"""Learning the combination of a count fit: backcasts of the fitted posterior scored beside analogues and the
conflictology at earlier origins (models.count.mixture says what is mixed and how)."""

from __future__ import annotations

import numpy as np

from models.count.analogue import analogue_futures
from models.count.mixture import (
    ANALOGUE_SHAPES,
    ANALOGUE_STEPS,
    BACKCAST_DRAWS,
    CENTRING,
    COMPONENTS,
    FUTURES_KEYS,
    LEARN_STEPS,
    REGIMES,
    learn_regime_weights,
    region_weights,
    training_origins,
)
from models.count.simulate import simulate_count_spec


def backcasts(model, fit, panel, origins: list[int], seed: int):
    """Yield (origin index, model paths (BACKCAST_DRAWS, LEARN_STEPS, regions)) simulated with the fit's posterior
    from the state observed at each origin, with the model's paths alone (no mixture)."""
    samples = fit.samples()
    n_samples = next(iter(samples.values())).shape[0]
    for t in origins:
        _, state, _ = model.prepare(panel.until(panel.periods[t]))
        state.update({name: fit.state[name] for name in CENTRING if name in fit.state})  # the fit's centring
        rng = np.random.default_rng([seed, t])
        idx = rng.integers(0, n_samples, BACKCAST_DRAWS)
        uniforms = np.clip(rng.random((BACKCAST_DRAWS, LEARN_STEPS, len(fit.regions))), 1e-12, 1 - 1e-12)
        yield t, simulate_count_spec(fit.spec, samples, state, idx=idx, uniforms=uniforms)


def learned_combination(model, fit, panel, seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    """Return (state arrays the mixture simulates from, info) for a count fit of ``panel``.

    The state holds ``mix_weights`` (regions, components) and each analogue component's futures (regions,
    neighbours, ANALOGUE_STEPS) under its FUTURES_KEYS name; the info the weights per regime, the training origins
    and the cells each regime was learned on.
    """
    values = model.indicator_values(panel)
    origins = training_origins(values.shape[1])
    weights, cells = learn_regime_weights(backcasts(model, fit, panel, origins, seed), values)
    futures = {}
    for name, months in ANALOGUE_SHAPES.items():
        try:
            futures[name] = analogue_futures(values, ANALOGUE_STEPS, shape_months=months).astype(np.float32)
        except ValueError:  # too short a history for any analogue: the other components
            futures[name] = np.full((values.shape[0], 1, ANALOGUE_STEPS), np.nan, dtype=np.float32)
    state = {"mix_weights": region_weights(weights, fit.state["window"], futures),
             **{FUTURES_KEYS[name]: component_futures for name, component_futures in futures.items()}}
    info = {"components": list(COMPONENTS),
            "weights": {regime: [round(float(w), 3) for w in weights[g]] for g, regime in enumerate(REGIMES)},
            "training_origins": [panel.periods[t] for t in sorted(origins)], "training_cells": cells}
    return state, info
