"""Plots of a study or a sweep: accuracy against weights, learning curves, confusion matrix.

Usage: python3 -m smallnet.plots STUDY_DIR   (or run this file directly; it needs only numpy and matplotlib)

Reads STUDY_DIR/results.json and writes accuracy_vs_params.png, learning_curves.png and
confusion_best.png next to it. From Python each function takes runs in any of three forms
(a study's ``results.json`` rows, :func:`smallnet.sweep` records, or dicts with ``params``,
``test_accuracy``, ``history`` and ``confusion``), returns the matplotlib Figure and, given a
path, saves it whole (``bbox_inches="tight"``: no label is cut). Runs of one cell with several
seeds are drawn as their mean with a band or bar of ± one standard deviation.

Example:
    >>> from smallnet import plots
    >>> fig = plots.learning_curves(records, "curves.png")   # one panel per table or group
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable, Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["accuracy_vs_params", "colours", "confusion_best", "learning_curves", "main"]

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
TABLE_TITLES = {1: "Table 1: FCN budgets", 2: "Table 2: optimizers × learning rates (100K CNN)",
                3: "Table 3: CNN budgets"}
DPI = 110


def colours(n: int) -> list:
    """``n`` distinct colours: tab10 up to 10, tab20 up to 20, then evenly spaced on turbo."""
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, n)]


def _flat(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """One finished run as a flat dict (id, cell, label, group, params, test_accuracy, history,
    confusion, published); None for a failed or unfinished run."""
    result = run.get("result", run)
    if run.get("status", "ok") != "ok" or result.get("status", "ok") != "ok" or result.get("test_accuracy") is None:
        return None
    table = run.get("table")
    cell = run.get("cell") or run.get("label") or run.get("id") or ""
    label = run.get("label")
    if label is None and table is not None:
        label = _study_label(run)
    return {
        "id": run.get("id", cell),
        "cell": cell,
        "label": label or cell,
        "group": run.get("group") or (TABLE_TITLES.get(table, f"Table {table}") if table is not None
                                      else str(result.get("arch", "runs")).upper()),
        "table": table,
        "arch": result.get("arch", run.get("arch", "")),
        "params": result.get("params"),
        "test_accuracy": result["test_accuracy"],
        "history": list(result.get("history") or []),
        "confusion": result.get("confusion"),
        "published": run.get("published_accuracy"),
    }


def _study_label(run: Mapping[str, Any]) -> str:
    if run.get("table") == 2:
        return f"{run.get('optimizer')} lr {run.get('lr'):g}"
    return f"{run.get('arch', '').upper()} {run.get('budget', 0) // 1000}K"


def _cells(runs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[dict]]]:
    """Finished runs grouped by panel, then by cell (the seeds of one configuration), in order."""
    groups: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        flat = _flat(run)
        if flat is not None:
            groups.setdefault(flat["group"], {}).setdefault(flat["cell"], []).append(flat)
    # A study's tables in their order (its runs start in another).
    tables = {f["group"]: f["table"] for cells in groups.values() for members in cells.values() for f in members}
    if all(t is not None for t in tables.values()):
        groups = dict(sorted(groups.items(), key=lambda item: tables[item[0]]))
    return groups


def _mean_std(values: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(v) for v in values)
    array = np.array([v[:n] for v in values], dtype=float)
    std = array.std(axis=0, ddof=1) if len(array) > 1 else np.zeros(n)
    return array.mean(axis=0), std


def _save(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return fig


def accuracy_vs_params(runs: Iterable[Mapping[str, Any]], path: str | os.PathLike | None = None) -> Figure:
    """Test accuracy against trainable parameters (log scale), one curve per architecture (study:
    Tables 1 and 3), ± one standard deviation over seeds, with the reference report's figures."""
    runs = list(runs)
    flats = [f for f in (_flat(r) for r in runs) if f is not None and f["table"] in (None, 1, 3)]
    arches = list(dict.fromkeys(f["arch"] for f in flats))
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for arch, colour in zip(arches, colours(len(arches))):
        by_params: dict[int, list[dict]] = {}
        for f in flats:
            if f["arch"] == arch:
                by_params.setdefault(f["params"], []).append(f)
        x = sorted(by_params)
        accuracies = [[100 * f["test_accuracy"] for f in by_params[p]] for p in x]
        mean = [np.mean(a) for a in accuracies]
        std = [np.std(a, ddof=1) if len(a) > 1 else 0 for a in accuracies]
        if any(std):
            ax.errorbar(x, mean, yerr=std, fmt="o-", color=colour, capsize=3, label=f"smallnet {arch.upper()}")
        else:
            ax.plot(x, mean, "o-", color=colour, label=f"smallnet {arch.upper()}")
        published = sorted({(p, by_params[p][0]["published"]) for p in x if by_params[p][0]["published"]})
        if published:
            ax.plot([p for p, _ in published], [100 * a for _, a in published], "x--", color=colour, alpha=0.6,
                    label=f"report {arch.upper()}")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("FashionMNIST: accuracy under a parameter budget")
    ax.grid(True, which="both", alpha=0.3)
    if arches:
        ax.legend()
    return _save(fig, path)


def learning_curves(runs: Iterable[Mapping[str, Any]], path: str | os.PathLike | None = None) -> Figure:
    """Test accuracy after each epoch, one panel per table (or group), one distinct colour per
    configuration; several seeds are drawn as their mean with a band of ± one standard deviation."""
    groups = _cells(runs)
    n = max(1, len(groups))
    fig = Figure(figsize=(5.2 * n, 5.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    for ax, (title, cells) in zip(axes, groups.items()):
        longest = 1
        for (cell, members), colour in zip(cells.items(), colours(len(cells))):
            curves = [[100 * (h.get("eval_accuracy") or 0) for h in m["history"]] for m in members]
            if not all(curves):
                continue
            mean, std = _mean_std(curves)
            epochs = np.arange(1, len(mean) + 1)
            longest = max(longest, len(epochs))
            seeds = f" ({len(members)} seeds)" if len(members) > 1 else ""
            ax.plot(epochs, mean, "o-", markersize=3, color=colour, label=members[0]["label"] + seeds)
            if len(members) > 1 and len(epochs) > 1:
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
            elif len(members) > 1:
                ax.errorbar(epochs, mean, yerr=std, color=colour, capsize=4)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        if longest <= 12:
            ax.set_xticks(range(1, longest + 1))
            ax.set_xlim(0.5, longest + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    return _save(fig, path)


def confusion_best(runs: Iterable[Mapping[str, Any]], path: str | os.PathLike | None = None,
                   class_names: list[str] | None = None) -> Figure:
    """The confusion matrix of the most accurate run, counts coloured by row-normalised rate."""
    flats = [f for f in (_flat(r) for r in runs) if f is not None and f["confusion"]]
    if not flats:
        raise ValueError("no finished run with a confusion matrix")
    best = max(flats, key=lambda f: f["test_accuracy"])
    matrix = np.array(best["confusion"], dtype=float)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    n = len(matrix)
    names = class_names or (CLASS_NAMES if n == len(CLASS_NAMES) else [str(i) for i in range(n)])
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{best['label']}: {100 * best['test_accuracy']:.2f} % test accuracy")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = argv[1]
    path = os.path.join(directory, "results.json")
    try:
        with open(path, encoding="utf-8") as f:
            runs = json.load(f)["runs"]
    except (OSError, ValueError, KeyError) as error:
        print(f"smallnet.plots: error: cannot read the runs of {path}: {error}", file=sys.stderr)
        return 1
    if not any(_flat(r) for r in runs):
        print(f"smallnet.plots: no finished run in {path}; nothing to draw")
        return 0
    accuracy_vs_params(runs, os.path.join(directory, "accuracy_vs_params.png"))
    learning_curves(runs, os.path.join(directory, "learning_curves.png"))
    confusion_best(runs, os.path.join(directory, "confusion_best.png"))
    print(f"plots written to {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
