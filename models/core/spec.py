"""Model specification: what a fit is of, as a JSON-able value with a short, stable identity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from models.core.errors import SpecError
from models.core.registry import family as registered_family

MODEL_VERSION = "3"
"""Version of the model code. A stored posterior with another version is refused on load."""

NORMALISATIONS = ("target", "source")
SAMPLERS = ("nutpie", "pymc", "advi")
NUTPIE_ADAPTATIONS = ("diag", "draw_diag", "low_rank")
"""Mass-matrix adaptations nutpie may use ("flow" needs jax or torch, not installed)."""


@dataclass(frozen=True)
class SamplerConfig:
    """How a posterior is drawn: sampler name, its lengths and seed, and for nutpie the mass-matrix `adaptation`
    ("diag", nutpie's own default, "draw_diag" or "low_rank", which also adapts to correlated directions) and
    `target_accept` (nutpie's default 0.8; higher: smaller steps, fewer divergences); None leaves nutpie's
    default. Not part of the model identity. The one shape of sampler settings from a request to the sampler:
    `from_settings` reads the service's stored settings, `FamilyModel.fit(config=)` and `fit_servable(config=)`
    take it. Raises SpecError for a setting out of range."""

    sampler: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    seed: int = 1
    adaptation: str | None = None
    target_accept: float | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise SpecError(f"unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}")
        for name in ("draws", "chains"):
            if int(getattr(self, name)) < 1:
                raise SpecError(f"sampler {name} must be >= 1, got {getattr(self, name)}")
        if int(self.tune) < 0:
            raise SpecError(f"sampler tune must be >= 0, got {self.tune}")
        if self.adaptation is not None and self.adaptation not in NUTPIE_ADAPTATIONS:
            raise SpecError(f"unknown nutpie adaptation {self.adaptation!r}; "
                            f"use one of {', '.join(NUTPIE_ADAPTATIONS)}")
        if self.target_accept is not None and not 0.0 < float(self.target_accept) < 1.0:
            raise SpecError(f"target_accept must lie strictly between 0 and 1, got {self.target_accept!r}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SamplerConfig:
        """Return the config of stored sampler settings: the service's request shape {"method", "draws", "tune",
        "chains", "seed"} or this class's own field names."""
        fields = {k: v for k, v in settings.items() if k != "method"}
        return cls(**({"sampler": settings["method"]} if "method" in settings else {}), **fields)

    def run_lengths(self) -> dict[str, int]:
        """Return the NUTS samplers' run keywords: draws, tune, chains and cores (at most 2, the machines' count)."""
        return {"draws": self.draws, "tune": self.tune, "chains": self.chains, "cores": min(self.chains, 2)}

    def nutpie_options(self) -> dict[str, Any]:
        """Return the nutpie keyword settings this config sets (empty: nutpie's defaults)."""
        options = {"adaptation": self.adaptation, "target_accept": self.target_accept}
        return {k: v if k == "adaptation" else float(v) for k, v in options.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """Return the sampler settings as a JSON-ready dict (nutpie settings left at their default left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a model: family, indicator, covariates, components, form and priors.

    Keys
    ----
    family : a registered family (models.core.registry): "count", "share", "amount", or one added by register_family
    indicator : indicator id modelled
    covariates : indicator ids used as standardised lagged covariates in the endemic part
    spillover : whether the neighbour component (hhh4's ``ne``) is in the model
    normalise : "target" (w[q,r] = 1/|N(r)|, the default) or "source" (hhh4's 1/|N(q)|)
    form : family-specific functional form (count: "loglinear" or "linear")
    options : family-specific extra settings (JSON values), part of the identity
    priors : prior overrides, key by key (see models.fitting.priors), part of the identity
    """

    family: str
    indicator: str
    covariates: tuple[str, ...] = ()
    spillover: bool = True
    normalise: str = "target"
    form: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    priors: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        registered_family(self.family)  # raises SpecError naming the registered families
        if not isinstance(self.indicator, str) or not self.indicator:
            raise SpecError("indicator must be a non-empty string")
        if self.normalise not in NORMALISATIONS:
            raise SpecError(f"normalise must be 'target' or 'source', got {self.normalise!r}")
        covariates = tuple(self.covariates)
        if self.indicator in covariates:
            raise SpecError(f"the indicator {self.indicator!r} cannot also be its own covariate")
        if len(set(covariates)) != len(covariates):
            raise SpecError(f"covariates must be distinct, got {list(covariates)}")
        object.__setattr__(self, "covariates", covariates)
        try:
            json.dumps(self.options, sort_keys=True)
            json.dumps(self.priors, sort_keys=True)
        except TypeError as exc:
            raise SpecError(f"options and priors must be JSON values: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a JSON-ready dict (covariates as a list)."""
        out = asdict(self)
        out["covariates"] = list(self.covariates)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Return the spec stored by `to_dict`; raises SpecError on unknown keys."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise SpecError(f"unknown model spec keys: {sorted(unknown)}")
        return cls(**{**data, "covariates": tuple(data.get("covariates", ()))})

    def to_json(self) -> str:
        """Return the canonical JSON text of the spec (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def spec_id(self) -> str:
        """Return the identity: first 16 hex digits of sha256(spec JSON + model version)."""
        return spec_id(self)


def spec_id(spec: ModelSpec) -> str:
    """Return the short sha256 identity of a spec together with the model code version."""
    text = spec.to_json() + "|" + MODEL_VERSION
    return hashlib.sha256(text.encode()).hexdigest()[:16]
