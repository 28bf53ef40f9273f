"""The Dockerfile and compose.yaml: structure, and their entry commands run for real.

The image itself is built and run by .ci/docker-smoke (CI) and the compose stack by
.ci/compose-check (`make test-deploy`); these tests check what needs no Docker engine: the
Dockerfile's shape (both builders, dependencies from uv.lock in their own layer, CA and index build
arguments kept out of the runtime, non-root user, no VOLUME, HEALTHCHECK, CMD), the compose file
(required secrets, the password outside the URL, only the API published on loopback, the start
order, one volume per service), the HEALTHCHECK command against a live server, and (slow) the
image's CMD run in a fresh virtual environment installed as the Dockerfile installs, with the
image's ENV.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import yaml

from tests.processes import stop_process

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
README = ROOT / "README.md"


# ----------------------------------------------------------------------------- parsing
def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """Return the Dockerfile's instructions as (KEYWORD, argument text), continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_stages(text: str) -> list[dict]:
    """Return one dict per stage: base image (ARGs resolved), name and its instructions."""
    args = {}
    stages: list[dict] = []
    for keyword, rest in dockerfile_instructions(text):
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append({"image": image, "name": name, "instructions": []})
        else:
            stages[-1]["instructions"].append((keyword, rest))
    return stages


def env_of(stage: dict) -> dict[str, str]:
    """Return the ENV variables a stage sets (KEY=VALUE form)."""
    env: dict[str, str] = {}
    for keyword, rest in stage["instructions"]:
        if keyword == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def exec_form(stage: dict, keyword: str) -> list[str]:
    """Return the JSON (exec-form) argv of the stage's last CMD, or of its HEALTHCHECK's CMD."""
    found = [rest for kw, rest in stage["instructions"] if kw == keyword]
    assert found, f"the runtime stage has no {keyword}"
    rest = found[-1]
    if keyword == "HEALTHCHECK":
        rest = rest[rest.index("CMD ") + 4:]
    return json.loads(rest)


def runtime_stage() -> dict:
    """Return the last (runtime) stage of the Dockerfile."""
    return dockerfile_stages(DOCKERFILE.read_text())[-1]


def readme_services() -> set[str]:
    """Return the compose service names listed in the README's Deployment table."""
    text = README.read_text()
    match = re.search(r"^## Deployment\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no '## Deployment' section"
    return set(re.findall(r"^\|\s*`([a-z0-9-]+)`\s*\|", match.group(1), re.M))


# ----------------------------------------------------------------------------- Dockerfile
def stage_named(name: str) -> dict:
    """Return the Dockerfile stage called `name`."""
    stages = {stage["name"]: stage for stage in dockerfile_stages(DOCKERFILE.read_text())}
    assert name in stages, f"no stage {name!r} in {sorted(stages, key=str)}"
    return stages[name]


def test_dockerfile_builds_with_the_legacy_builder_and_fetches_only_the_base():
    """No BuildKit-only syntax (frontend line, RUN --mount, heredocs) and every FROM is the base or a stage."""
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I), "a # syntax= line fetches a frontend from Docker Hub"
    stages = dockerfile_stages(text)
    runs = [rest for stage in stages for kw, rest in stage["instructions"] if kw == "RUN"]
    assert not any("--mount" in run for run in runs), "RUN --mount needs BuildKit"
    assert "<<" not in " ".join(runs), "heredocs need BuildKit"
    names = {stage["name"] for stage in stages}
    raw_froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert all(image in ("${PYTHON_IMAGE}", *names) for image in raw_froms), raw_froms
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim$", text, re.M)
    copied_from = [re.search(r"--from=(\S+)", rest).group(1) for stage in stages
                   for kw, rest in stage["instructions"] if kw == "COPY" and "--from=" in rest]
    assert copied_from and set(copied_from) <= names, copied_from


def test_dependencies_install_from_the_lock_alone_before_the_code_is_copied():
    """The dependency layer reads only pyproject.toml and uv.lock, so a code edit reuses it."""
    deps = stage_named("deps")
    copies = [rest for kw, rest in deps["instructions"] if kw == "COPY"]
    assert copies == ["pyproject.toml uv.lock ./"], copies
    runs = [rest for kw, rest in deps["instructions"] if kw == "RUN"]
    install = next(run for run in runs if "uv export" in run)
    assert "--frozen" in install and "--no-emit-project" in install and "--extra" not in install, install
    assert "--require-hashes" in install, "the hashes of uv.lock are not checked"
    keywords = [kw for kw, _ in deps["instructions"]]
    assert keywords.index("COPY") < max(i for i, kw in enumerate(keywords) if kw == "RUN")
    project = stage_named("project")
    assert project["image"] == "deps", "the project stage must build on the dependency stage"
    project_copies = " ".join(rest for kw, rest in project["instructions"] if kw == "COPY")
    for package in ("indicators", "models", "service"):
        assert package in project_copies
    install = " ".join(rest for kw, rest in project["instructions"] if kw == "RUN")
    assert "--no-deps" in install, "the project install must not touch the dependencies"


def test_uv_of_the_image_is_the_makefiles():
    makefile = (ROOT / "Makefile").read_text()
    wanted = re.search(r"^UV_VERSION := (\S+)$", makefile, re.M).group(1)
    args = {rest.partition("=")[0]: rest.partition("=")[2]
            for kw, rest in stage_named("deps")["instructions"] if kw == "ARG"}
    assert args.get("UV_VERSION") == wanted, (args, wanted)


def test_runtime_copies_dependencies_and_project_as_two_layers_and_no_toolchain():
    runtime = runtime_stage()
    copies = [rest for kw, rest in runtime["instructions"] if kw == "COPY"]
    assert copies == ["--from=deps /opt/venv /opt/venv", "--from=project /opt/project/ /opt/venv/"], copies
    text = DOCKERFILE.read_text()
    for tool in ("build-essential", "gcc", "g++", "apt-get install"):
        assert tool not in text, f"{tool} in the Dockerfile: every dependency is a wheel"
    assert "VOLUME" not in {kw for kw, _ in runtime["instructions"]}, "VOLUME leaves an anonymous volume"
    assert env_of(runtime)["PATH"].startswith("/opt/venv/bin:")


def test_ca_bundle_and_index_are_build_arguments_that_stay_out_of_the_runtime():
    deps = stage_named("deps")
    args = {rest.partition("=")[0] for kw, rest in deps["instructions"] if kw == "ARG"}
    assert {"CA_CERT", "INDEX_URL"} <= args
    env = env_of(deps)
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"], "pip and uv must read the same bundle"
    assert env["UV_DEFAULT_INDEX"] == env["PIP_INDEX_URL"] == "${INDEX_URL}"
    bundle_run = next(rest for kw, rest in deps["instructions"] if kw == "RUN" and "CA_CERT" in rest)
    assert env["PIP_CERT"] in bundle_run and "/etc/ssl/certs/ca-certificates.crt" in bundle_run
    runtime = runtime_stage()
    runtime_text = json.dumps(runtime["instructions"])
    for name in ("CA_CERT", "INDEX_URL", "build-ca", "SSL_CERT_FILE", "PIP_CERT"):
        assert name not in runtime_text, f"{name} reaches the runtime stage"


def test_runtime_runs_as_a_non_root_user_with_writable_data_paths():
    runtime = runtime_stage()
    users = [rest for kw, rest in runtime["instructions"] if kw == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    keywords = [kw for kw, _ in runtime["instructions"]]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw in ("RUN", "COPY"))
    env = env_of(runtime)
    assert env["FRAGILITY_ARTIFACTS"] == "/data/artifacts"
    assert "base_compiledir=/data/" in env["PYTENSOR_FLAGS"]
    chown = " ".join(rest for kw, rest in runtime["instructions"] if kw == "RUN")
    assert f"chown -R {users[-1]}:{users[-1]} /data" in chown


def test_healthcheck_and_cmd_are_exec_form_and_target_healthz():
    runtime = runtime_stage()
    assert exec_form(runtime, "CMD") == ["fragility", "serve", "--host", "0.0.0.0"]
    check = exec_form(runtime, "HEALTHCHECK")
    assert check[:2] == ["python", "-c"] and "/healthz" in check[2]
    assert "curl" not in check[2]


def test_dockerignore_keeps_the_context_small_but_buildable():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".uv", "tests", "artifacts"} <= ignored
    assert not {"pyproject.toml", "uv.lock", "README.md", "indicators", "models", "service"} & ignored


# ----------------------------------------------------------------------------- compose
def interpolate(value: str, env: dict[str, str]) -> str:
    """Return a compose value with ${VAR}, ${VAR:-default} and ${VAR:?error} resolved from `env`, as
    `docker compose` does ($$ is a literal $); raise LookupError for a required variable unset or empty."""
    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise LookupError(f"{name}: {arg}")
        return arg if op == ":-" else ""
    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value.replace("$$", "\0")).replace("\0", "$")


def compose_services(env: dict[str, str]) -> dict:
    """Return compose.yaml's services with every string value interpolated from `env`."""
    def walk(node):
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return interpolate(node, env) if isinstance(node, str) else node
    return walk(yaml.safe_load(COMPOSE.read_text())["services"])


SECRETS = {"POSTGRES_PASSWORD": "p@ss:w/rd#1%", "MINIO_ROOT_PASSWORD": "m1n10-s3cr3t@"}
APP_SERVICES = ["api", "worker", "dask-scheduler", "dask-worker"]
DATA_SERVICES = ["api", "worker", "dask-worker"]


def test_compose_names_every_service_the_readme_names():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = set(compose["services"])
    documented = readme_services()
    assert documented == services, f"README {sorted(documented)} vs compose {sorted(services)}"
    assert {"postgres", "api", "worker", "dask-scheduler", "dask-worker"} <= services


def test_compose_refuses_to_start_without_each_secret():
    assert compose_services(SECRETS)
    for name in SECRETS:
        with pytest.raises(LookupError, match=name):
            compose_services({key: value for key, value in SECRETS.items() if key != name})
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert not re.search(r"\$\{" + name + r":-", text), f"{name} has a silent default"


def test_compose_passes_the_database_password_outside_the_url():
    """A password with @, :, / or % reaches libpq untouched (PGPASSWORD), never inside the URL."""
    services = compose_services(SECRETS)
    for name in DATA_SERVICES:
        env = services[name]["environment"]
        assert env["FRAGILITY_DATABASE_URL"] == "postgresql://fragility@postgres:5432/fragility", name
        assert env["PGPASSWORD"] == SECRETS["POSTGRES_PASSWORD"] == services["postgres"]["environment"][
            "POSTGRES_PASSWORD"]
        assert env["AWS_SECRET_ACCESS_KEY"] == SECRETS["MINIO_ROOT_PASSWORD"]
    assert "environment" not in services["dask-scheduler"], "the scheduler touches no data: it gets no secret"


@pytest.mark.pg
def test_the_service_engine_hands_libpq_the_password_of_pgpassword(monkeypatch):
    """The compose wiring works: an engine made by the service from a password-less URL connects with
    PGPASSWORD's password, characters that break a URL included (trust auth accepts any password)."""
    from service.db.engine import make_engine

    monkeypatch.setenv("PGPASSWORD", SECRETS["POSTGRES_PASSWORD"])
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/postgres".replace("postgresql", "postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection.info.password == SECRETS["POSTGRES_PASSWORD"]
    finally:
        engine.dispose()


def test_compose_publishes_only_the_api_on_loopback_by_default():
    services = compose_services(SECRETS)
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert list(published) == ["api"], published
    assert published["api"] == ["127.0.0.1:8000:8000"]
    exposed = compose_services({**SECRETS, "API_ADDRESS": "0.0.0.0", "API_PORT": "9000"})["api"]["ports"]
    assert exposed == ["0.0.0.0:9000:8000"]


def test_compose_api_open_file_limit_is_65536_unless_api_nofile_lowers_it():
    """Raising the hard limit above the daemon's needs CAP_SYS_RESOURCE: where the daemon lacks it (these machines)
    runc refuses the container, so .ci/compose-check sets API_NOFILE to the daemon's own limit."""
    assert compose_services(SECRETS)["api"]["ulimits"]["nofile"] == {"soft": "65536", "hard": "65536"}
    lowered = compose_services({**SECRETS, "API_NOFILE": "20000"})["api"]["ulimits"]["nofile"]
    assert lowered == {"soft": "20000", "hard": "20000"}
    assert "API_NOFILE=$nofile" in (ROOT / ".ci" / "compose-check").read_text()


def test_compose_start_order_waits_for_health_and_for_the_bucket_job():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if dependency == "minio-bucket":
                assert rule == {"condition": "service_completed_successfully"}, (name, rule)
                continue
            assert rule == {"condition": "service_healthy"}, (name, dependency, rule)
            check = services[dependency].get("healthcheck", {})
            assert check.get("test") and not check.get("disable"), f"{dependency} has no healthcheck"
    for name in DATA_SERVICES:
        assert "minio-bucket" in services[name]["depends_on"], f"{name} starts before the bucket exists"
    assert set(services["api"]["depends_on"]) >= {"postgres", "dask-scheduler"}
    assert "dask-scheduler" in services["dask-worker"]["depends_on"]
    assert services["minio-bucket"]["restart"] == "no"


def test_compose_gives_each_service_its_own_volumes():
    compose = yaml.safe_load(COMPOSE.read_text())
    owners: dict[str, str] = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose["volumes"], f"{name} mounts {source}, not a named volume"
            assert source not in owners, f"{source} shared by {owners[source]} and {name}"
            owners[source] = name
    assert owners["pgdata"] == "postgres" and owners["objects"] == "minio"


def test_compose_wires_database_scheduler_and_the_artifact_bucket():
    """The application services share only the database and the bucket (no artifact volume)."""
    services = compose_services(SECRETS)
    for name in APP_SERVICES:
        assert services[name]["image"] == "fragility-forecast:latest"
        assert services[name]["build"]["args"]["PYTHON_IMAGE"] == "python:3.12-slim"
        assert not any("artifacts" in volume for volume in services[name].get("volumes", [])), name
    for name in DATA_SERVICES:
        env = services[name]["environment"]
        assert env["FRAGILITY_DASK_SCHEDULER"] == "tcp://dask-scheduler:8786"
        assert env["FRAGILITY_ARTIFACTS"] == "s3://fragility-artifacts/fragility"
        options = json.loads(env["FRAGILITY_ARTIFACTS_OPTIONS"])
        assert options["client_kwargs"]["endpoint_url"] == "http://minio:9000"
        assert env["AWS_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
    assert "fragility-artifacts" in " ".join(services["minio-bucket"]["command"])
    assert services["worker"]["command"] == ["fragility", "worker"]
    assert services["api"]["command"][:2] == ["fragility", "serve"]
    assert services["dask-worker"]["command"][:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_compose_does_not_advertise_a_dashboard_the_image_cannot_serve():
    """The Dask dashboard needs bokeh; if the lock leaves it out, compose must not publish or advertise it."""
    lock = (ROOT / "uv.lock").read_text()
    has_bokeh = re.search(r'^name = "bokeh"$', lock, re.M) is not None
    text = COMPOSE.read_text()
    if not has_bokeh:
        assert "8787:8787" not in text
        assert not re.search(r"dashboard (?:on|at) ", text, re.I), "compose advertises the Dask dashboard"


# ----------------------------------------------------------------------------- live runs
def run_healthcheck(port: int, bin_dir: Path) -> subprocess.CompletedProcess:
    """Run the Dockerfile's HEALTHCHECK argv with `python` from bin_dir; return the result."""
    argv = exec_form(runtime_stage(), "HEALTHCHECK")
    env = {**os.environ, "FRAGILITY_PORT": str(port),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.e2e
def test_healthcheck_command_passes_on_a_live_server_and_fails_without_one(live_server):
    port = int(str(live_server).rstrip("/").rsplit(":", 1)[1])
    bin_dir = Path(sys.executable).parent
    ok = run_healthcheck(port, bin_dir)
    assert ok.returncode == 0, ok.stderr
    down = run_healthcheck(free_port(), bin_dir)
    assert down.returncode != 0


@pytest.mark.slow
@pytest.mark.e2e
def test_image_commands_run_in_a_clean_venv_from_the_project_wheel(tmp_path):
    """Install as the Dockerfile does (uv.lock's runtime dependencies with their hashes, then the project
    alone, --no-deps) into a fresh venv, and run CMD there as the image does."""
    uv = ROOT / ".uv" / "bin" / "uv"
    assert uv.exists(), "uv is bootstrapped by `make install` into .uv/"
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    bin_dir = env_dir / "bin"
    requirements = tmp_path / "requirements.txt"
    subprocess.run([uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements.txt",
                    "-o", str(requirements)], cwd=ROOT, check=True, capture_output=True, timeout=120)
    pinned = re.findall(r"^([A-Za-z0-9._-]+)==", requirements.read_text(), re.M)
    assert "pymc" in pinned and not {"pytest", "ruff", "moto"} & set(pinned), "the dev extra leaked into the image"
    for args in (["--require-hashes", "-r", str(requirements)], ["--no-deps", str(ROOT)]):
        subprocess.run([uv, "pip", "install", "--quiet", "--python", str(bin_dir / "python"), *args],
                       check=True, capture_output=True, timeout=900)

    runtime = runtime_stage()
    data = tmp_path / "data"
    env = {key: value.replace("/data", str(data)) for key, value in env_of(runtime).items()}
    for key in ("FRAGILITY_ARTIFACTS", "NUMBA_CACHE_DIR", "MPLCONFIGDIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    port = free_port()
    env.update(FRAGILITY_PORT=str(port), HOME=str(tmp_path),
               PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    clean_env = {k: v for k, v in os.environ.items()
                 if not k.startswith(("FRAGILITY_", "PYTHON", "VIRTUAL_ENV", "PYTENSOR"))}
    clean_env.update(env)

    # Nothing of the project tree may leak in: run from an empty directory.
    workdir = tmp_path / "home"
    workdir.mkdir()
    cmd = exec_form(runtime, "CMD")
    server_log = tmp_path / "server.log"
    server = subprocess.Popen(cmd, env=clean_env, cwd=workdir, stdout=open(server_log, "w"),
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            check = run_healthcheck(port, bin_dir)
            if check.returncode == 0:
                break
            assert server.poll() is None, f"`{' '.join(cmd)}` exited:\n{server_log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "HEALTHCHECK never passed within 120 s"
            time.sleep(1)
        # the page and its static files ship inside the wheel (package data)
        import urllib.request
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert "/static/app.js" in page
        script = urllib.request.urlopen(f"http://127.0.0.1:{port}/static/fanchart.js", timeout=10).read()
        assert b"FanChart" in script
        imported = subprocess.run([bin_dir / "python", "-c", "import service; print(service.__file__)"],
                                  env=clean_env, cwd=workdir, capture_output=True, text=True)
        assert str(env_dir) in imported.stdout, imported.stdout
        for argv in (["fragility", "worker", "--help"], ["dask", "scheduler", "--help"],
                     ["dask", "worker", "--help"]):
            result = subprocess.run(argv, env=clean_env, cwd=workdir, capture_output=True,
                                    text=True, timeout=120)
            assert result.returncode == 0, (argv, result.stdout, result.stderr)
    finally:
        stop_process(server)


def compose_argv(argv: list[str], ports: dict[str, str]) -> list[str]:
    """Return a compose command or healthcheck argv with its ports (and the scheduler host) remapped."""
    out = []
    for arg in argv:
        for old, new in ports.items():
            arg = arg.replace(old, new)
        out.append(arg.replace("tcp://dask-scheduler:", "tcp://127.0.0.1:"))
    return out


def wait_healthy(check: list[str], process: subprocess.Popen, name: str, seconds: float = 60) -> None:
    """Return once the healthcheck argv exits 0; fail if `process` died or time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if subprocess.run(check, capture_output=True, timeout=30).returncode == 0:
            return
        assert process.poll() is None, f"{name} exited:\n{process.log_path.read_text()[-3000:]}"
        time.sleep(0.5)
    pytest.fail(f"{name}'s compose healthcheck never passed within {seconds:.0f} s")


@pytest.mark.e2e
def test_compose_dask_services_start_and_pass_their_healthchecks(tmp_path):
    """Run compose's dask-scheduler and dask-worker commands (ports remapped) and their healthchecks."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    ports = {"8786": str(free_port()), "8787": str(free_port()), "8789": str(free_port())}
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    started: list[subprocess.Popen] = []
    try:
        for name in ("dask-scheduler", "dask-worker"):
            service = services[name]
            command = compose_argv(service["command"], ports)
            assert command[0] == "dask"
            log = open(tmp_path / f"{name}.log", "w")  # closed with the process
            process = subprocess.Popen([str(bin_dir / "dask"), *command[1:]], env=env, cwd=tmp_path,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            process.log_path = tmp_path / f"{name}.log"
            started.append(process)
            check = compose_argv(service["healthcheck"]["test"], ports)
            assert check[0] == "CMD"
            wait_healthy([sys.executable if c == "python" else c for c in check[1:]], process, name)
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{ports['8786']}", timeout=30) as client:
            client.wait_for_workers(1, timeout=30)
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
    finally:
        for process in reversed(started):
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()
