"""Runs examples/notebooks/budget_study.ipynb headless (SMOKE=1) and checks what it produced."""
import base64
import os
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "notebooks" / "budget_study.ipynb"
DATA = os.environ.get("SMALLNET_DATA", "/usr/share/datasets/fashion-mnist")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    if not os.path.isdir(DATA) and os.environ.get("SMALLNET_REQUIRE_DATA") != "1":
        pytest.skip("FashionMNIST is not installed")
    out = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    os.environ["SMOKE"] = "1"
    os.environ["NOTEBOOK_OUT"] = str(out)
    try:
        client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(out)}})
        client.execute()
    finally:
        os.environ.pop("SMOKE", None)
        os.environ.pop("NOTEBOOK_OUT", None)
    return notebook, out


def test_runs_without_errors(executed):
    notebook, _ = executed
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []


def test_no_progress_bar_warning(executed):
    """tqdm finds ipywidgets (smallnet[notebook]) and draws widgets, not an IProgress warning."""
    notebook, _ = executed
    text = "".join(str(o) for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "IProgress" not in text and "TqdmWarning" not in text
    assert "application/vnd.jupyter.widget-view+json" in text


def test_figures_come_from_smallnet_plots_and_the_intro_gives_the_full_time():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    for function in ("plots.accuracy_vs_params(", "plots.learning_curves(", "plots.confusion_best("):
        assert function in code
    assert "ax.imshow(confusion" not in code, "no copy of the plotting code"
    assert "minutes" in notebook.cells[0].source and "FULL_MODE_TIME" not in notebook.cells[0].source


def test_plots_are_real_non_empty_images(executed):
    notebook, out = executed
    images = [base64.b64decode(o["data"]["image/png"])
              for c in notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 4  # accuracy vs weights, learning curves, confusion matrix, misclassified images
    for png in images:
        assert png.startswith(PNG_MAGIC) and len(png) > 5_000
    for name in ("accuracy_vs_params.png", "learning_curves.png", "confusion_best.png", "misclassified.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, name


def test_summary_lists_every_budget_with_a_plausible_accuracy(executed):
    notebook, _ = executed
    text = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 7
    accuracies = [float(line.split("%")[0].split()[-1]) for line in lines]
    assert all(40 < a <= 100 for a in accuracies), accuracies  # one short epoch; a broken model gets 10 %
