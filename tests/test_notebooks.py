"""The lesson as notebooks: the Chinese and English ones share their code cell for cell, each
committed .ipynb is its jupytext source with outputs, and both run top to bottom on the real
data in a fresh kernel, showing the lesson's numbers."""

import time

import jupytext
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
SOURCES = [NOTEBOOKS / "lesson_cn.py", NOTEBOOKS / "lesson_en.py"]
LESSON_FIGURES = ("0.228", "[0.88 0.12 0.  ]", "-log 0.6 = 0.51", "-log 0.1 = 2.30")


def cells(notebook, kind: str) -> list[str]:
    return [c.source.strip() for c in notebook.cells if c.cell_type == kind]


def text_outputs(notebook) -> str:
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


def test_the_two_languages_share_their_code_cells():
    chinese, english = (jupytext.read(s) for s in SOURCES)
    assert len(cells(english, "code")) >= 10
    assert cells(chinese, "code") == cells(english, "code")
    assert len(cells(chinese, "markdown")) == len(cells(english, "markdown"))
    assert "损失函数" in cells(chinese, "markdown")[0] and "cross-entropy" in cells(english, "markdown")[0]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_each_ipynb_is_its_source_with_outputs(source):
    """The committed .ipynb is made from the source (notebooks/build.py) and executed: the same
    cells, every code cell run, the lesson's numbers and the figures in it, under 1 MiB."""
    built, original = jupytext.read(source.with_suffix(".ipynb")), jupytext.read(source)
    for kind in ("markdown", "code"):
        assert cells(built, kind) == cells(original, kind), f"run python notebooks/build.py {source.name}"
    code = [c for c in built.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert not [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    for figure in LESSON_FIGURES:
        assert figure in text_outputs(built), figure
    pictures = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    assert pictures >= 4  # the digits, the comparison, the gradients, what the network saw
    assert source.with_suffix(".ipynb").stat().st_size < 1024 * 1024


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_each_notebook_runs_top_to_bottom_in_a_fresh_kernel(source, datafile, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in (datafile.name, datafile.name + ".cache.npz"):
        (work / name).symlink_to(datafile.parent / name)
    notebook = jupytext.read(source)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on an error
    print(f"{source.name}: {time.perf_counter() - start:.0f} s")
    outputs = text_outputs(notebook)
    for figure in LESSON_FIGURES:
        assert figure in outputs, figure
    assert "epoch: 9, batch: 50, loss is:" in outputs  # the lesson's log lines, both runs
    assert "surely wrong" in outputs and (work / "notebook-compare.png").is_file()
