"""``neuroport targets``: list the registered targets and whether their libraries are installed."""

from __future__ import annotations

import click

from neuroport.backend import list_targets
from neuroport.commands.common import echo_json, json_option


@click.command("targets")
@json_option
def command(as_json: bool) -> None:
    """List every registered target (backend plugin) and whether its vendor libraries are installed.

    Nothing is imported to find out: a target whose libraries are missing is listed with what to install.
    Backends from other packages appear here too once they register under the entry-point group
    `neuroport.backends`.
    """
    infos = list_targets()
    if as_json:
        echo_json({"targets": [info.__dict__ for info in infos]})
        return
    width = max(len(i.name) for i in infos)
    for info in infos:
        state = "ready" if info.installed else f"missing: {', '.join(info.missing)}"
        needs = ", ".join(info.requires) or "numpy only"
        click.echo(f"{info.name:<{width}}  {state:<24} needs {needs}   ({info.entry_point})")
