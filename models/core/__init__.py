"""The vocabulary every other part of models speaks: its errors (errors.py), what a fit is of (spec.py:
ModelSpec, SamplerConfig, spec_id, MODEL_VERSION) and the registry of model families with the checks of what a
family declares (registry.py). Imports nothing of models outside core."""
