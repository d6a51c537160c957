"""The ``neuroport`` command line.

Each command lives in its own module under :mod:`neuroport.commands` and exposes a click command named
``command``; :data:`COMMANDS` lists them explicitly (imported when the CLI starts, no registration by side
effect).  Every error a user can cause is a :class:`~neuroport.errors.NeuroportError`: it is printed as one
line and the exit status is 2 — never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from neuroport import __version__
from neuroport.errors import NeuroportError
from neuroport.interrupts import (
    Interrupted,
    exit_quietly_on_signal,
    install_handlers,
    interrupted_in,
    reap_children,
    restore_handlers,
)
from neuroport.resources import set_limit_gb

COMMANDS: tuple[str, ...] = (
    "neuroport.commands.check",
    "neuroport.commands.compile",
    "neuroport.commands.convert",
    "neuroport.commands.verify",
    "neuroport.commands.report",
    "neuroport.commands.targets",
    "neuroport.commands.train",
    "neuroport.commands.explore",
)

HELP = """neuroport: deploy e-prop-trained recurrent spiking networks to neuromorphic chips.

\b
A model file (model.yaml, or NIR) goes through:
  check    validate the model and summarise it
  convert  model.yaml ⇄ NIR
  train    train it with e-prop (float, NEST, BPTT, or on-chip in fixed point)
  compile  quantize it for a hardware config and lower it to a target
  verify   float vs fixed-point accuracy, and backend vs emulator bit-exactness
  report   energy, latency and energy-delay product per target

\b
Start with:  neuroport check examples/evidence_accumulation.yaml
Every command takes --json for scripts and --help for its options; `neuroport --memory-limit GB CMD`
raises (or lowers) the memory a command may plan to use.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="neuroport")
@click.option("--memory-limit", type=click.FloatRange(min=0, min_open=True, max=1e9), default=None, metavar="GB",
              help="Memory a command may plan to use, in GB [default: $NEUROPORT_MEMORY_LIMIT_GB, else the memory "
                   "available]; models and runs estimated above it are refused before anything is allocated.")
def cli(memory_limit: float | None) -> None:
    set_limit_gb(memory_limit)


for _module in COMMANDS:
    cli.add_command(importlib.import_module(_module).command)


def _stop(stop: Interrupted) -> None:
    reap_children()
    click.echo(f"{stop}", err=True)
    sys.exit(stop.exit_status)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one-line messages and exit status 2, and SIGINT,
    SIGTERM, SIGHUP (to this process or its group) into a clean stop: every child process reaped, exit status
    128 + the signal's number (130, 143, 129) and one line."""
    previous = install_handlers()
    try:
        cli.main(args=argv, prog_name="neuroport", standalone_mode=False)
    except NeuroportError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as err:  # a bad option or argument: one line, naming it, and where the help is
        where = f" (see '{err.ctx.command_path} --help')" if err.ctx is not None else ""
        click.echo(f"error: {err.format_message()}{where}", err=True)
        sys.exit(err.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except MemoryError as err:  # the estimate (neuroport.resources) was under a limit set above the machine's memory
        click.echo(f"error: ran out of memory ({err}); lower --memory-limit / NEUROPORT_MEMORY_LIMIT_GB to what "
                   "this machine has, and the model is refused before it allocates", err=True)
        sys.exit(2)
    except Interrupted as stop:
        _stop(stop)
    except SystemError as err:  # a signal that arrives inside compiled code (numba) surfaces wrapped in SystemError
        stop = interrupted_in(err)
        if stop is None:
            raise
        _stop(stop)
    finally:
        restore_handlers(previous)


def entry() -> None:
    """The ``neuroport`` command: :func:`main`, then a signal that arrives while the interpreter shuts down (after
    the work is done) still ends it with one line and 128 + its number, not a traceback from a finalizer."""
    try:
        main()
    finally:
        exit_quietly_on_signal()


if __name__ == "__main__":
    entry()
