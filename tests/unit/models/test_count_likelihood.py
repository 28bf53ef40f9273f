"""The count model's NB log-likelihood (gammaln terms on positive cells only) is PyMC's NegativeBinomial's,
value and gradient, on cells with many zeros and with large counts and sizes."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from scipy import stats

from models.count.likelihood import negative_binomial_loglik


def test_the_split_likelihood_is_the_negative_binomial_density_and_gradient():
    rng = np.random.default_rng(3)
    n = 400
    y = np.where(rng.random(n) < 0.7, 0, rng.negative_binomial(0.8, 0.01, n)).astype(np.int64)
    y[:3] = [0, 1, 250_000]
    log_mu0 = rng.normal(1.0, 3.0, n)
    log_alpha0 = rng.normal(0.0, 2.0, n)
    log_mu = pt.dvector("log_mu")
    log_alpha = pt.dvector("log_alpha")
    with pm.Model():
        split = negative_binomial_loglik("y_loglik", y, log_mu, log_alpha)
        reference = pm.logp(pm.NegativeBinomial.dist(mu=pt.exp(log_mu), alpha=pt.exp(log_alpha)), y).sum()
    f = pytensor.function([log_mu, log_alpha], [split, reference, *pt.grad(split, [log_mu, log_alpha]),
                                                 *pt.grad(reference, [log_mu, log_alpha])])
    value, expected, g_mu, g_alpha, r_mu, r_alpha = f(log_mu0, log_alpha0)
    scipy_value = stats.nbinom.logpmf(y, np.exp(log_alpha0), np.exp(log_alpha0) / (np.exp(log_alpha0)
                                                                                  + np.exp(log_mu0))).sum()
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    np.testing.assert_allclose(value, scipy_value, rtol=1e-8)
    np.testing.assert_allclose(g_mu, r_mu, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g_alpha, r_alpha, rtol=1e-7, atol=1e-9)
    assert np.abs(g_alpha[y == 0]).max() > 0  # zeros still inform the size, through alpha * log(alpha / (alpha + mu))
