"""Names are not paths, and every write is checked: output folders derived from a model's name stay inside build/,
and a write that fails (an impossible folder, a path under a file, a read-only file system, a full device) is one
``error:`` line naming the path and the OS reason, exit 2 — never a traceback, never a success message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neuroport.cli import main
from neuroport.outputs import OutputError, default_folder, make_folder, open_output, safe_name, write_text
from tests.conftest import write_yaml


@pytest.mark.parametrize(("name", "safe"), [("../../../x", "x"), ("/etc/passwd", "etc_passwd"), ("a/../../b", "a_.._.._b"),
                                            ("..", "model"), ("", "model"), ("x\0y", "x_y"), ("ea run #3", "ea_run_3"),
                                            (".hidden", "hidden"), ("évidence", "vidence"), ("ok-name_1.2", "ok-name_1.2")])
def test_safe_name(name, safe):
    assert safe_name(name) == safe


@pytest.mark.parametrize("name", ["../../../x", "/abs/olute", "..", "a/../../../b", "x\0y", "~root", "con:aux"])
def test_default_folder_stays_inside_its_parent(name, tmp_path):
    parent = tmp_path / "build"
    folder = default_folder(name, "loihi-sim", parent)
    assert folder.resolve().parent == parent.resolve()
    assert folder.name.endswith("-loihi-sim") and "/" not in folder.name and "\0" not in str(folder)


def test_unwritable_targets_raise_output_error(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputError, match=r"^/proc/x/y: cannot create the output folder \(No such file or directory\)"):
        make_folder("/proc/x/y")
    with pytest.raises(OutputError, match="afile/sub: cannot create the output folder"):
        make_folder(tmp_path / "afile" / "sub")
    with pytest.raises(OutputError, match=r"afile/x.txt: cannot write \(Not a directory\)"):
        write_text(tmp_path / "afile" / "x.txt", "x")
    with pytest.raises(OutputError, match=r"^/dev/full: cannot write \(No space left on device\)"):
        write_text("/dev/full", "a few bytes, buffered until the flush")
    with pytest.raises(OutputError, match="/dev/full"), open_output("/dev/full") as handle:
        handle.write(b"x" * 10)


def _run(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out = capsys.readouterr()
    return stop.value.code, out.err


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_traversal_name_writes_only_inside_build(tmp_path, tiny_doc, capsys, monkeypatch):
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    tiny_doc["name"] = "../../../escaped"
    model = write_yaml(cwd, tiny_doc)
    monkeypatch.chdir(cwd)
    before = _files(tmp_path)
    try:
        main(["compile", str(model), "--samples", "0"])
        code = 0
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    written = _files(tmp_path) - before
    assert code in (0, 2), err  # compiled into build/, or the name refused by the loader: never anything else
    assert all(cwd / "build" in p.parents or p == cwd / "build" for p in written), sorted(map(str, written))
    if code == 0:
        assert (cwd / "build" / "escaped-emulator" / "manifest.json").is_file()
    else:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err


@pytest.mark.parametrize(("argv", "path", "reason"), [
    (["compile", "{model}", "--samples", "0", "-o", "/proc/x"], "/proc/x", "No such file or directory"),
    (["compile", "{model}", "--samples", "0", "-o", "/sys/x"], "/sys/x", "Operation not permitted"),
    (["compile", "{model}", "--samples", "0", "-o", "afile/sub"], "afile/sub", "Not a directory"),
    (["report", "{model}", "-n", "1", "--html", "/dev/full"], "/dev/full", "No space left on device"),
    (["report", "{model}", "-n", "1", "--plot", "/dev/full"], "/dev/full", "No space left on device"),
    (["report", "{model}", "-n", "1", "--plot", "afile/x.png"], "afile/x.png", "Not a directory"),
    (["convert", "{model}", "afile/x.yaml"], "afile", "a file of that name is in the way"),
    (["convert", "{model}", "afile/x.nir"], "afile/x.nir", "Not a directory"),
    (["train", "{model}", "-i", "1", "-o", "/proc/x"], "/proc/x", "No such file or directory"),
], ids=["compile /proc", "compile /sys (read-only)", "compile under a file", "report --html /dev/full",
        "report --plot /dev/full", "report --plot under a file", "convert yaml under a file", "convert nir under a file",
        "train /proc"])
def test_unwritable_output_is_one_error_line(argv, path, reason, tmp_path, tiny_model, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    before = _files(tmp_path)
    code, err = _run([a.format(model=tiny_model) for a in argv], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and reason in lines[0], err
    assert _files(tmp_path) == before and not os.path.exists("/proc/x")
