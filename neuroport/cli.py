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
Every command takes --json for scripts and --help for its options.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="neuroport")
def cli() -> None:
    pass


for _module in COMMANDS:
    cli.add_command(importlib.import_module(_module).command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one-line messages and exit status 2."""
    try:
        cli.main(args=argv, prog_name="neuroport", standalone_mode=False)
    except NeuroportError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
