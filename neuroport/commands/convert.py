"""``neuroport convert SRC DST``: model.yaml ⇄ NIR."""

from __future__ import annotations

from pathlib import Path

import click

from neuroport.commands.common import PositiveFloat, echo_json, json_option, load_any_model
from neuroport.errors import ModelError
from neuroport.outputs import writing

NIR_SUFFIXES = (".nir", ".h5", ".hdf5")
YAML_SUFFIXES = (".yaml", ".yml")


@click.command("convert")
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--dt-ms", type=PositiveFloat(), default=None, help="Time step of a foreign NIR graph that does not state it.")
@json_option
def command(src: str, dst: str, dt_ms: float | None, as_json: bool) -> None:
    """Convert between model.yaml and NIR (the Neuromorphic Intermediate Representation).

    \b
    YAML → NIR: Input → Linear → LIF (+ recurrent Linear) → Linear → LI → Output, dt in metadata; what NIR has
    no node for (ALIF adaptation, refractoriness, populations, e-prop settings, task) travels in metadata.
    NIR → YAML: writes DST and DST's weights .npz. Graphs from other tools (snnTorch, Norse, ...) are imported
    when they have that shape; anything else is refused naming the node.

    \b
    Examples:
      neuroport convert examples/evidence_accumulation.yaml ea.nir
      neuroport convert ea.nir ea.yaml
    """
    from neuroport.ir.nir_io import read_nir, write_nir
    from neuroport.ir.writer import write_model

    src_suffix, dst_suffix = Path(src).suffix.lower(), Path(dst).suffix.lower()
    graph = read_nir(src, dt_ms=dt_ms) if src_suffix in NIR_SUFFIXES else load_any_model(src)
    if dst_suffix in NIR_SUFFIXES:
        with writing(dst):  # NIR's HDF5 writer
            out = write_nir(graph, dst)
    elif dst_suffix in YAML_SUFFIXES:
        out = write_model(graph, dst)
    else:
        raise ModelError("unknown output type; expected .yaml or .nir", file=dst)
    if as_json:
        echo_json({"from": src, "to": str(out), "name": graph.name, "neurons": graph.n_recurrent})
    else:
        click.echo(f"{src} → {out} ({graph.name}: {graph.n_recurrent} recurrent neurons)")
