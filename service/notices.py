"""How the command line and the worker processes show the models' notices: `models.core.errors.CompileNotice`
("compiling the model ...") as one plain `note:` line on stderr instead of a Python warning with its file, line
and source line. Standard library only, so the CLI imports it without cost; other warnings are shown as before."""

from __future__ import annotations

import sys
import warnings


def plain_compile_notices() -> None:
    """Show CompileNotice warnings as `note: MESSAGE` from now on in this process (once installed, again is a
    no-op); returns nothing. Also the initializer of the local executor's spawned processes."""
    shown = warnings.showwarning
    if getattr(shown, "plain_notices", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__name__ == "CompileNotice":
            print(f"note: {message}", file=file or sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, file, line)

    show.plain_notices = True
    warnings.showwarning = show
