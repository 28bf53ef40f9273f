"""The Dockerfile and compose.yaml: structure, and their entry commands run for real.

There is no Docker engine on the test machines, so the image itself is not built. What can
be checked here is checked: the Dockerfile's shape (multi-stage, wheels, non-root user,
HEALTHCHECK, CMD), the compose file (parses, names every service the README names,
health-gated start order), the HEALTHCHECK command against a live server, and (slow) the
image's CMD run in a fresh virtual environment holding only the project wheel and its
dependencies, with the image's ENV.
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
def test_dockerfile_builds_wheels_in_a_builder_and_installs_only_wheels_at_runtime():
    stages = dockerfile_stages(DOCKERFILE.read_text())
    assert len(stages) >= 2, "expected a multi-stage build"
    builder, runtime = stages[0], stages[-1]
    assert builder["name"] == "builder"
    assert builder["image"] == runtime["image"] == "python:3.12-slim"
    builder_runs = " ".join(rest for kw, rest in builder["instructions"] if kw == "RUN")
    assert "pip wheel --wheel-dir /wheels ." in builder_runs
    runtime_runs = [rest for kw, rest in runtime["instructions"] if kw == "RUN"]
    installs = [r for r in runtime_runs if "pip install" in r]
    assert installs and all("--no-index" in r and "from=builder" in r for r in installs), installs
    assert not any(kw == "COPY" for kw, _ in runtime["instructions"]), "runtime copies sources"


def test_runtime_runs_as_a_non_root_user_with_writable_data_paths():
    runtime = runtime_stage()
    users = [rest for kw, rest in runtime["instructions"] if kw == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    keywords = [kw for kw, _ in runtime["instructions"]]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")
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
    assert {".git", ".venv", "tests", "artifacts"} <= ignored
    assert not {"pyproject.toml", "README.md", "indicators", "models", "service"} & ignored


# ----------------------------------------------------------------------------- compose
def test_compose_names_every_service_the_readme_names():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = set(compose["services"])
    documented = readme_services()
    assert documented == services, f"README {sorted(documented)} vs compose {sorted(services)}"
    assert {"postgres", "api", "worker", "dask-scheduler", "dask-worker"} <= services


def test_compose_start_order_is_health_gated():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert rule == {"condition": "service_healthy"}, (name, dependency, rule)
            check = services[dependency].get("healthcheck", {})
            assert check.get("test") and not check.get("disable"), f"{dependency} has no healthcheck"
    assert set(services["api"]["depends_on"]) >= {"postgres", "dask-scheduler"}
    assert "dask-scheduler" in services["dask-worker"]["depends_on"]


def test_compose_wires_database_scheduler_and_the_artifact_bucket():
    """The application services share only the database and the bucket (no artifact volume)."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    app_services = ["api", "worker", "dask-scheduler", "dask-worker"]
    for name in app_services:
        env = services[name]["environment"]
        assert env["FRAGILITY_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["FRAGILITY_DATABASE_URL"]
        assert env["FRAGILITY_DASK_SCHEDULER"] == "tcp://dask-scheduler:8786"
        assert env["FRAGILITY_ARTIFACTS"] == "s3://fragility-artifacts/fragility"
        options = json.loads(env["FRAGILITY_ARTIFACTS_OPTIONS"])
        assert options["client_kwargs"]["endpoint_url"] == "http://minio:9000"
        assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
        assert not any("artifacts" in volume for volume in services[name].get("volumes", [])), name
        assert services[name]["image"] == "fragility-forecast:latest"
        if name != "dask-scheduler":
            assert services[name]["depends_on"]["minio"] == {"condition": "service_healthy"}, name
    assert services["minio"]["image"].startswith("minio/minio:")
    assert "fragility-artifacts" in " ".join(services["minio-bucket"]["command"])
    assert services["worker"]["command"] == ["fragility", "worker"]
    assert services["api"]["command"][:2] == ["fragility", "serve"]
    assert services["dask-worker"]["command"][:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert {"pgdata", "objects"} <= set(compose["volumes"])


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
    """Build the project wheel, install it alone into a fresh venv, run CMD as the image does."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(wheels),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("fragility_forecast-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "--quiet", str(wheel)],
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
    server = subprocess.Popen(cmd, env=clean_env, cwd=workdir, stdout=open(server_log, "w"),  # noqa: SIM115
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
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
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
