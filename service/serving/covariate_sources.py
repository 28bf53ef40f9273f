"""Which fitted model moves each covariate of a model forward when its forecast paths are simulated.

For a covariate indicator, the source is the served version (newest promoted, not broken) of another
registered model of that indicator; where several models have one, the version whose data end latest
wins, then the most recently promoted. A covariate without such a model is held at its last value, and
the forecast says so (`covariates_mode`, and a reason per covariate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from service.crud.models import models_of_indicator
from service.crud.versions import last_promoted
from service.errors import ArtifactBroken
from service.serving.artifacts import ArtifactStore, as_store


def covariate_sources(session: Session, config: dict[str, Any], store: ArtifactStore | Path | str
                      ) -> dict[str, dict[str, Any]]:
    """Return per covariate of `config` either {"model", "family", "version", "posterior", "posterior_sha256"}
    (the posterior's key in the artifact store, checksum verified) of the served version that moves it, or
    {"reason"} saying why it is held."""
    store = as_store(store)
    sources: dict[str, dict[str, Any]] = {}
    for name in config.get("covariates", []):
        candidates = []
        for model in models_of_indicator(session, name, except_name=config["name"]):
            version = last_promoted(session, model.id)
            if version is not None:
                candidates.append((version.last_period or "", version.promoted_at, model, version))
        if not candidates:
            sources[name] = {"reason": f"no registered model of {name!r} has a served version; "
                                       f"create and fit one (POST /v1/models) to move it forward"}
            continue
        _, _, model, version = max(candidates, key=lambda c: (c[0], c[1]))
        try:
            store.verify(version.posterior_file, version.posterior_sha256,
                         what=f"posterior of {model.name} v{version.number}")
        except ArtifactBroken as exc:
            sources[name] = {"reason": f"the served version of {model.name!r} cannot be read: {exc.message}"}
            continue
        sources[name] = {"model": model.name, "family": model.family, "version": version.number,
                         "posterior": version.posterior_file, "posterior_sha256": version.posterior_sha256}
    return sources


def load_covariate_fits(fit, sources: dict[str, dict[str, Any]], store: ArtifactStore | Path | str
                        ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return (usable covariate Fits by name, extra detail per covariate: the source model and version, or
    why the covariate is held). Runs in the executor: reads the posteriors named in `sources` from `store`."""
    store = as_store(store)
    from models.core.errors import ModelError
    from models.fitting.fit import Fit
    from models.questions.covariates import source_problem

    usable, notes = {}, {}
    for name, source in sources.items():
        if "posterior" not in source:
            notes[name] = {"reason": source["reason"]}
            continue
        label = {"model": source["model"], "version": source["version"]}
        try:
            with store.local_copy(source["posterior"], source["posterior_sha256"],
                                  what=f"posterior of {source['model']} v{source['version']}") as path:
                covariate_fit = Fit.load(path)
        except (ModelError, OSError, ArtifactBroken) as exc:
            notes[name] = {**label, "reason": f"its posterior cannot be loaded: {exc}"}
            continue
        problem = source_problem(fit, name, covariate_fit)
        if problem:
            notes[name] = {**label, "reason": problem}
            continue
        usable[name] = covariate_fit
        notes[name] = label
    return usable, notes
