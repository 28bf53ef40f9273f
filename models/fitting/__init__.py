"""Fitting a family's model: the contract every family's model class implements (family_model.py:
FamilyModel) and its registration (registration.py), design arrays and priors the families build from
(design.py, priors.py), drawing the posterior (sampling.py, with the compile cache of compile_cache.py), its
diagnostics (convergence.py, diagnostics.py), the promotion gate (gate.py) and the result, `Fit`, with its
NetCDF form (fit.py). Imports models.questions (a Fit's forecast and spillover answer) and models.core."""
