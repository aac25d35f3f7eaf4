"""The ``rlvr`` command line: it only wires the commands, one module each under ``rlvr.commands``."""

from __future__ import annotations

import os
import sys

import typer

from rlvr.commands._common import err_console
from rlvr.errors import RlvrError

app = typer.Typer(
    name="rlvr",
    help="Reinforcement learning with verifiable rewards: verify, audit, train and diagnose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Reinforcement learning with verifiable rewards: verify, audit, train and diagnose."""
    # `--verifier mymod:verifier` names a module in the folder the command runs in, as `python -m`
    # would find it; the `rlvr` console script does not put that folder on sys.path. Appended, so
    # it never shadows an installed package.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


# Commands that live in their own modules: each ``rlvr.commands.<name>`` defines ``register(app)``.
_COMMAND_MODULES = ("verify", "audit", "evaluate", "train", "health", "lab", "cost", "env")


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(f"rlvr.commands.{name}").register(app)


_register_commands()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except RlvrError as exc:  # anything a command did not turn into a message itself
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
