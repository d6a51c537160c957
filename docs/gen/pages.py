"""The generated pages of the documentation (run by mkdocs-gen-files at every build; nothing is written to docs/).

    model-file reference   docs/gen/model_reference.py   (the loader's own reading of the model files)
    targets                docs/gen/targets.py           (each backend's capabilities())
    command line           docs/gen/cli_reference.py     (each command's --help)
    hardware numbers       docs/gen/hw_numbers.py        (hw_configs/*.yaml with sources)
    performance            docs/gen/results_tables.py    (results/*.json)
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_reference  # noqa: E402
import hw_numbers  # noqa: E402
import model_reference  # noqa: E402
import results_tables  # noqa: E402
import targets  # noqa: E402

PAGES = {
    "reference/model-file.md": model_reference.render,
    "reference/cli.md": cli_reference.render,
    "reference/targets.md": targets.render,
    "reference/hw-numbers.md": hw_numbers.render,
    "results/performance.md": lambda: "# Performance\n\n" + results_tables.render() + "\n",
}

for page, render in PAGES.items():
    with mkdocs_gen_files.open(page, "w") as out:
        out.write(render())
