"""Errors raised by `models`, under the one root `indicators.errors.FragilityError`.

Each class docstring is its default message; `.hint` says what to do. The whole tree is drawn
in `service/errors.py`. Here:

- `ModelError` (a `FragilityError`): a fit or a forecast could not be made. `NotFitted`: a forecast
  or a save was asked of a model that has no posterior; `PosteriorMismatch`: a stored posterior does
  not belong to this model spec or code version; `SamplingFailed`: the sampler raised or returned no
  usable draws.
- `SpecError` (an `InputError`): the caller asked for something the model cannot do: a panel
  without the indicator, spillover into a region with no neighbours, horizon < 1, an unknown
  region, a bad option.
"""

from __future__ import annotations

from indicators.errors import FragilityError, InputError


class ModelError(FragilityError):
    """The model could not be fitted or used."""

    hint = "Check the fit's diagnostics and the input panel."


class SpecError(InputError):
    """The model specification or the question asked of it is invalid."""

    hint = "Correct the model options or the question and try again."


class NotFitted(ModelError):
    """The model has no posterior yet."""

    hint = "Call .fit(panel) first, or Fit.load(path)."


class PosteriorMismatch(ModelError):
    """The stored posterior does not match this model specification or code version."""

    hint = "Refit the model with the current code, or load it with the spec it was fitted with."


class SamplingFailed(ModelError):
    """The sampler failed to produce usable draws."""

    hint = "Try another sampler (sampler='pymc'), more tuning steps, or inspect the data for extreme values."


class GateWarning(UserWarning):
    """A library fit that misses the serving gate (its forecasts may not be trustworthy): warned, not raised."""


class CompileNotice(UserWarning):
    """A nutpie fit is compiling its model (the first fit of a shape in a process): it says how long and where
    the compiled pieces are cached. Silence it with warnings.filterwarnings("ignore", category=CompileNotice)."""
