"""A SQLite store that cannot be opened gets a hint about its folder, not about a database server (issue 30: a
root-owned bind mount at /data failed `fragility serve` with "check that the database server is running")."""

import os
import subprocess
import sys
from pathlib import Path

from service.cli.common import EXIT_UNREACHABLE, unreachable_hint
from service.errors import DatabaseUnavailable

FRAGILITY = Path(sys.executable).with_name("fragility")


def test_a_sqlite_file_in_a_missing_folder_names_the_folder_and_the_images_user(tmp_path):
    missing = tmp_path / "no-such-folder"
    env = {**os.environ, "FRAGILITY_DATABASE_URL": f"sqlite:///{missing}/fragility.db"}
    done = subprocess.run([str(FRAGILITY), "keys", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == EXIT_UNREACHABLE, done
    hint = [line for line in done.stderr.splitlines() if line.startswith("hint:")]
    assert hint and f"the folder {missing} does not exist" in hint[0], done.stderr
    assert "uid 10001" in hint[0] and "database server" not in hint[0], done.stderr


def test_a_folder_the_user_cannot_write_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as root every folder is writable
    hint = unreachable_hint(f"sqlite:///{tmp_path}/fragility.db")
    assert f"the folder {tmp_path} is not writable by this user (uid {os.getuid()})" in hint, hint


def test_a_database_server_keeps_the_server_hint():
    assert unreachable_hint("postgresql://fragility@127.0.0.1:1/fragility") == DatabaseUnavailable.hint
    assert unreachable_hint("sqlite://") == DatabaseUnavailable.hint  # in memory: nothing on disk to check
