"""The `fragility` commands that only talk HTTP start without the heavy modules (pandas, alembic, psycopg,
SQLAlchemy: seconds of start time), and a busy port is refused before any work with exit 4.

Each command runs in a fresh interpreter, as the console script runs it, against a port nothing listens on;
at exit the interpreter lists which heavy modules it had imported.
"""

import socket
import subprocess
import sys

import pytest

from service.cli.common import EXIT_PORT_IN_USE, EXIT_UNREACHABLE, HEAVY_MODULES

NOBODY = "http://127.0.0.1:9"  # the discard port: nothing listens there
REPORT = ("import atexit, sys\n"
          "heavy = {heavy!r}\n"
          "atexit.register(lambda: print('HEAVY=' + ','.join(sorted({{m.split('.')[0] for m in sys.modules}}"
          " & set(heavy))), file=sys.stderr))\n"
          "from service.cli import app\n"
          "sys.argv = ['fragility', *{argv!r}]\n"
          "app()\n")


def run_cli(*argv: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Return the finished `fragility ARGV` and the heavy modules it imported."""
    done = subprocess.run([sys.executable, "-c", REPORT.format(heavy=HEAVY_MODULES, argv=list(argv))],
                          capture_output=True, text=True, timeout=120, env=env)
    lines = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")]
    assert lines, done.stderr
    return done, {name for name in lines[-1].removeprefix("HEAVY=").split(",") if name}


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["models", "list", "--url", NOBODY],
    ["models", "show", "middle-east", "--url", NOBODY],
    ["forecast", "middle-east", "--region", "IRN", "--horizon", "6", "--url", NOBODY],
    ["probability", "middle-east", "--region", "IRN", "--threshold", "23", "--horizon", "6", "--url", NOBODY],
    ["spillover", "middle-east", "--source", "IRQ", "--target", "IRN", "--threshold", "23", "--horizon", "6",
     "--scenario", "scale=2", "--url", NOBODY],
    ["paths", "middle-east", "--out", "/nonexistent/paths.csv", "--url", NOBODY],
    ["fit", "middle-east", "--url", NOBODY],
])
def test_http_commands_import_no_database_or_frame_library(argv):
    done, heavy = run_cli(*argv)
    assert heavy == set(), f"`fragility {' '.join(argv)}` imported {sorted(heavy)}"
    if argv != ["--help"]:
        assert done.returncode == EXIT_UNREACHABLE and "cannot reach the server" in done.stderr, done.stderr


def test_a_local_command_still_imports_what_it_needs(tmp_path):
    """The check can fail: `fragility keys list` opens the store, so it imports SQLAlchemy and alembic."""
    env = {"FRAGILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "PATH": "/usr/bin:/bin"}
    done, heavy = run_cli("keys", "list", env=env)
    assert done.returncode == 0, done.stderr
    assert {"sqlalchemy", "alembic"} <= heavy


def test_a_busy_port_is_refused_at_once_naming_the_port_setting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"FRAGILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "FRAGILITY_PORT": str(port),
               "PATH": "/usr/bin:/bin"}
        for argv in (["serve"], ["demo", "--serve"]):
            done, _ = run_cli(*argv, env=env)
            assert done.returncode == EXIT_PORT_IN_USE, (argv, done.stderr)
            assert f"port {port} on 127.0.0.1 is already in use" in done.stderr, done.stderr
            assert "FRAGILITY_PORT=" in done.stderr and "--port" in done.stderr and "--url" in done.stderr
            assert not (tmp_path / "store.db").exists(), "the port is checked before the store is opened"


def test_the_compile_notice_is_one_plain_line_not_a_python_warning():
    code = ("import warnings\n"
            "import service.cli\n"
            "from models.core.errors import CompileNotice\n"
            "warnings.warn(CompileNotice('compiling the model (shape x); cached for next time'), stacklevel=1)\n"
            "warnings.warn(UserWarning('another warning'), stacklevel=1)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "note: compiling the model (shape x); cached for next time" in lines, done.stderr
    assert not any("CompileNotice" in line for line in lines), done.stderr
    assert any("UserWarning: another warning" in line for line in lines), "other warnings are shown as before"
