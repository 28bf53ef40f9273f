"""The vectorised R-hat and ESS (models.fitting.convergence) give ArviZ's values, element by element."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from models.fitting.convergence import summary


def ar1(rng, chains: int, draws: int, n: int, phi: float, shift: float = 0.0) -> np.ndarray:
    """Return (chains, draws, n) AR(1) draws with autocorrelation phi, chain c shifted by c * shift."""
    x = np.empty((chains, draws, n))
    x[:, 0] = rng.normal(size=(chains, n))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=(chains, n))
    return x + shift * np.arange(chains)[:, None, None]


def arviz_values(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ArviZ's rank R-hat, bulk ESS and tail ESS of each element of (chain, draw, element) draws."""
    data = xr.Dataset({"v": (("chain", "draw", "element"), x)})
    r = az.rhat(data)["v"].values if x.shape[0] > 1 else np.full(x.shape[2], np.nan)
    return r, az.ess(data, method="bulk")["v"].values, az.ess(data, method="tail")["v"].values


@pytest.mark.parametrize("chains,draws,phi,shift", [
    (4, 1300, 0.0, 0.0),     # independent draws (ESS can exceed the draws: antithetic pairs)
    (2, 1300, 0.9, 0.0),     # autocorrelated
    (4, 501, 0.99, 0.0),     # strongly autocorrelated, odd draws
    (2, 200, 0.5, 0.8),      # chains disagree: R-hat well above 1
    (1, 300, 0.7, 0.0),      # one chain: no R-hat
    (3, 20, 0.3, 0.0),       # very short chains: Geyer's sequence reaches its limit
])
def test_the_vectorised_diagnostics_equal_arviz(chains, draws, phi, shift):
    rng = np.random.default_rng(draws + chains)
    x = ar1(rng, chains, draws, 12, phi, shift)
    x[..., 0] = np.round(x[..., 0])      # ties (a discrete-looking element)
    x[..., 1] = np.exp(3 * x[..., 1])    # heavy right tail
    expected_rhat, expected_bulk, expected_tail = arviz_values(x)
    rhat, ess_bulk, ess_tail = summary(x)
    np.testing.assert_allclose(ess_bulk, expected_bulk, rtol=1e-9)
    np.testing.assert_allclose(ess_tail, expected_tail, rtol=1e-9)
    if chains > 1:
        np.testing.assert_allclose(rhat, expected_rhat, rtol=1e-9)
    else:
        assert np.isnan(rhat).all()
    if shift:
        assert np.all(rhat > 1.05)


def test_a_non_finite_draw_makes_its_element_nan_and_a_constant_element_has_full_ess():
    x = np.random.default_rng(1).normal(size=(2, 100, 3))
    x[0, 5, 0] = np.nan
    x[..., 2] = 1.5
    rhat, ess_bulk, ess_tail = summary(x)
    assert np.isnan(rhat[0]) and np.isnan(ess_bulk[0]) and np.isnan(ess_tail[0])
    assert np.isfinite(ess_bulk[1]) and ess_bulk[2] == 200
