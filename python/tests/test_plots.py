"""smallnet.plots: one panel per table with distinct colours, seeds as mean ± std, nothing cut off."""
from __future__ import annotations

import json

import pytest

plots = pytest.importorskip("smallnet.plots")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402


def history(accuracies):
    return [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "eval_accuracy": a, "seconds": 0.1}
            for i, a in enumerate(accuracies)]


def study_rows(seeds=1):
    """results.json rows of a study of three tables (3, 9 and 4 cells), ``seeds`` runs per cell."""
    rows = []
    for seed in range(seeds):
        def add(table, cell, arch, budget, params, accuracy, published=None, optimizer=None, lr=None):
            rows.append({"id": cell if seed == 0 else f"{cell}-s{seed}", "cell": cell, "seed": seed, "table": table,
                         "arch": arch, "budget": budget, "optimizer": optimizer, "lr": lr,
                         "published_accuracy": published, "status": "ok",
                         "result": {"arch": arch, "params": params, "test_accuracy": accuracy + 0.001 * seed,
                                    "history": history([accuracy - 0.05, accuracy + 0.001 * seed]),
                                    "confusion": [[10 if i == j else 1 for j in range(10)] for i in range(10)]}})
        for i, b in enumerate((50_000, 100_000, 200_000)):
            add(1, f"t1-fcn-{b // 1000}k", "fcn", b, b - 7, 0.88 + 0.005 * i, 0.8769)
        for i, b in enumerate((10_000, 20_000, 50_000, 100_000)):
            add(3, f"t3-cnn-{b // 1000}k", "cnn", b, b + 3, 0.90 + 0.005 * i, 0.7875)
        for o in ("sgd", "adam", "rmsprop"):
            for lr in (0.01, 0.005, 0.001):
                add(2, f"t2-cnn-100k-{o}-{lr}", "cnn", 100_000, 99_754, 0.92, None, o, lr)
    return rows


def legend_colours(ax):
    handles, _ = ax.get_legend_handles_labels()
    return [tuple(h.get_color()) if not isinstance(h.get_color(), str) else h.get_color() for h in handles]


@pytest.mark.parametrize("seeds", [1, 3])
def test_learning_curves_one_panel_per_table_and_no_colour_twice(seeds):
    figure = plots.learning_curves(study_rows(seeds))
    assert [ax.get_title().split(":")[0] for ax in figure.axes] == ["Table 1", "Table 2", "Table 3"]
    for ax, cells in zip(figure.axes, (3, 9, 4)):
        colours = legend_colours(ax)
        assert len(colours) == cells and len(set(colours)) == cells
        labels = ax.get_legend_handles_labels()[1]
        assert all(("(3 seeds)" in label) == (seeds == 3) for label in labels)
    if seeds == 3:  # a band of ± one standard deviation per cell
        assert all(len(ax.collections) == len(legend_colours(ax)) for ax in figure.axes)


def test_colours_are_distinct_for_any_number_of_cells():
    for n in (1, 9, 10, 11, 20, 21, 40):
        assert len(set(plots.colours(n))) == n


def test_nothing_is_cut_off():
    """Every axis label lies inside the figure (the notebook's confusion matrix lost "predicted")."""
    for figure in (plots.confusion_best(study_rows()), plots.accuracy_vs_params(study_rows(3)),
                   plots.learning_curves(study_rows())):
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        for ax in figure.axes:
            for label in (ax.xaxis.label, ax.yaxis.label, ax.title, ax.get_legend()):
                if label is not None and (not hasattr(label, "get_text") or label.get_text()):
                    box = label.get_window_extent(renderer)
                    assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1 + 1, label
                    assert figure.bbox.y0 <= box.y0 and box.y1 <= figure.bbox.y1 + 1, label


def test_sweep_records_and_plain_dicts_are_runs_too(tmp_path):
    records = [{"id": f"params={p},seed={s}", "status": "ok", "arch": "fcn", "params": p,
                "test_accuracy": 0.8 + p / 1e7 + s / 1000, "history": history([0.7, 0.8]),
                "confusion": [[5, 1], [1, 5]]} for p in (20_000, 50_000) for s in (0, 1)]
    records.append({"id": "broken", "status": "failed", "error": "diverged"})
    figure = plots.learning_curves(records, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert [ax.get_title() for ax in figure.axes] == ["FCN"]
    assert len(legend_colours(figure.axes[0])) == 4
    assert "params=50000,seed=1" in plots.confusion_best(records).axes[0].get_title()
    line = plots.accuracy_vs_params(records).axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [20_000, 50_000]


def test_main_says_what_is_missing(tmp_path, capsys):
    assert plots.main(["plots", str(tmp_path)]) == 1
    assert "cannot read the runs of" in capsys.readouterr().err
    (tmp_path / "results.json").write_text(json.dumps({"runs": study_rows()}))
    assert plots.main(["plots", str(tmp_path)]) == 0
    for name in ("accuracy_vs_params.png", "learning_curves.png", "confusion_best.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
