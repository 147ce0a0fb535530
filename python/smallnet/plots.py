"""Plots of a `smallnet study` directory: accuracy against weights, learning curves, confusion matrix.

Usage: python3 -m smallnet.plots STUDY_DIR   (or run this file directly; it needs only numpy and matplotlib)

Reads STUDY_DIR/results.json and writes accuracy_vs_params.png, learning_curves.png and
confusion_best.png next to it.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def accuracy_vs_params(runs, path):
    """Test accuracy against trainable parameters (log scale), FCN and CNN curves, with the report's figures."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for arch, table, colour in (("fcn", 1, "tab:blue"), ("cnn", 3, "tab:orange")):
        rows = sorted((r for r in runs if r["table"] == table), key=lambda r: r["result"]["params"])
        if not rows:
            continue
        x = [r["result"]["params"] for r in rows]
        ax.plot(x, [100 * r["result"]["test_accuracy"] for r in rows], "o-", color=colour, label=f"smallnet {arch.upper()}")
        published = [(r["result"]["params"], r["published_accuracy"]) for r in rows if r["published_accuracy"]]
        if published:
            ax.plot([p for p, _ in published], [100 * a for _, a in published], "x--", color=colour, alpha=0.6,
                    label=f"report {arch.upper()}")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("FashionMNIST: accuracy under a parameter budget")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learning_curves(runs, path):
    """Per-epoch test accuracy and training loss of every run."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in runs:
        history = r["result"]["history"]
        epochs = [h["epoch"] for h in history]
        left.plot(epochs, [100 * (h["eval_accuracy"] or 0) for h in history], marker=".", label=r["id"])
        right.plot(epochs, [h["train_loss"] for h in history], marker=".", label=r["id"])
    left.set_xlabel("epoch")
    left.set_ylabel("test accuracy (%)")
    left.set_title("test accuracy")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    right.set_title("training loss")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    right.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion_best(runs, path):
    """The confusion matrix of the most accurate run, row-normalised."""
    best = max(runs, key=lambda r: r["result"]["test_accuracy"])
    matrix = np.array(best["result"]["confusion"], dtype=float)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    n = len(matrix)
    names = CLASS_NAMES if n == len(CLASS_NAMES) else [str(i) for i in range(n)]
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{best['id']}: {100 * best['result']['test_accuracy']:.2f} % test accuracy")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    directory = argv[1]
    with open(os.path.join(directory, "results.json")) as f:
        runs = json.load(f)["runs"]
    accuracy_vs_params(runs, os.path.join(directory, "accuracy_vs_params.png"))
    learning_curves(runs, os.path.join(directory, "learning_curves.png"))
    confusion_best(runs, os.path.join(directory, "confusion_best.png"))
    print(f"plots written to {directory}")


if __name__ == "__main__":
    main(sys.argv)
