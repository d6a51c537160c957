"""The documentation: the strict site build (what `make docs` runs), the generated pages' content, the README as the
front door (short, links that resolve, its results table equal to results/*.json) and citations of primary sources
only."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "docs" / "gen"


def gen_module(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_gen_{name}", GEN / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_site_builds_strictly(tmp_path):
    """mkdocs --strict: a broken link, a missing page in the nav or an unresolved API reference fails it (mkdocs
    comes with the extra `docs`, part of `all`, which `make test` installs: no skip)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    site = tmp_path / "site"
    model_file = (site / "reference" / "model-file" / "index.html").read_text(encoding="utf-8")
    assert "tau_m_ms" in model_file and "learning.optimizer" in model_file
    assert "LoihiSimBackend" in (site / "reference" / "targets" / "index.html").read_text(encoding="utf-8")
    assert "Davies" in (site / "reference" / "hw-numbers" / "index.html").read_text(encoding="utf-8")
    assert "load_model" in (site / "api" / "ir" / "index.html").read_text(encoding="utf-8")
    assert "neuroport train [OPTIONS] MODEL" in (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")


def test_model_reference_is_read_off_the_loader():
    """Fields, defaults, bounds and units come from the loader's own reads, not from a copy."""
    page = gen_module("model_reference").render()
    assert "| `tau_m_ms` | per-neuron number | **required** | > 0 | ms |" in page
    assert "| `dt_ms` | number | `1.0` | > 0 | ms |" in page
    assert "| `name` | string | `adam` | `adam` \\| `sgd` |" in page
    assert "| `every_iterations` | integer | **required** | ≥ 1 | iterations |" in page
    assert "### `evidence_accumulation`" in page and "| `n_cues` | int | `7` |" in page


def test_targets_page_follows_capabilities():
    from neuroport.backend import list_targets, load_backend

    page = gen_module("targets").render()
    for info in list_targets():
        caps = load_backend(info.name).capabilities(None)
        assert f"`{info.name}`" in page
        for feature in caps.unsupported:
            assert f"**{feature}**" in page


def test_readme_is_a_short_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to a missing file: {target}"
    for command in ("make demo", "make test", "make docs"):
        assert command in text


def test_readme_results_equal_results_json():
    tables = gen_module("results_tables")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(tables.BEGIN)[1].split(tables.END)[0].strip()
    assert block == tables.headline(), "README results table is stale: run docs/gen/results_tables.py"


def test_citations_name_no_file_outside_the_repository():
    """README, docs, examples, results/*.md, tests and benchmarks cite primary sources, not notes kept elsewhere."""
    patterns = re.compile("|".join(["shared" + "/", r"(?<!\w)hardware" + r"\.md", r"(?<!\w)lava" + r"\.md",
                                    r"(?<!\w)eprop" + r"\.md", "ARCHITEC" + "TURE"]))  # whole names only
    files = [ROOT / "README.md", *(ROOT / "results").glob("*.md")]
    for folder in ("docs", "examples", "tests", "benchmarks"):
        files += [f for f in (ROOT / folder).rglob("*") if f.suffix in (".py", ".yaml", ".md")]
    found = [f"{f.relative_to(ROOT)}:{i}" for f in files
             for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if patterns.search(line)]
    assert found == []
