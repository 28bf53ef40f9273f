"""service: the FastAPI service, database, jobs and the `fragility` command; wires `indicators` and `models`.

Nothing is exported at package level (importing one submodule stays cheap). The entry points are
`service.cli:app` (the `fragility` command) and `service.app:create_app` (the FastAPI app factory).
"""

__all__: list[str] = []
