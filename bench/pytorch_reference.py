#!/usr/bin/env python3
"""Side-by-side throughput of smallnet and PyTorch on the same models, in one run.

Runs `smallnet bench --json`, rebuilds every benchmarked model in PyTorch from the layer list
it reports (same layers, widths, optimizer and loss), times PyTorch the same way (a full
training step: forward, loss, backward, optimizer step; and eval-mode inference), and prints
both figures with their ratio.

Shared machines drift by tens of per cent within a minute, so each model is measured in
`--rounds` rounds, smallnet then PyTorch back to back; each figure printed is the median over
the rounds, and the ratio is the median of the rounds' ratios, with their range.

PyTorch is an optional dependency of this script only:
    python3 -m venv .venv-bench && .venv-bench/bin/pip install torch numpy
    .venv-bench/bin/python bench/pytorch_reference.py

Usage: pytorch_reference.py [--smallnet PATH] [--threads N] [--seconds S] [--rounds R] [--arch fcn|cnn|all]
                            [--budgets ...] [--batch-sizes ...]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    default_binary = os.path.join(here, "..", ".build", "release", "smallnet")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smallnet", default=default_binary, help="path of the smallnet binary")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seconds", type=float, default=1.5, help="seconds per figure")
    p.add_argument("--rounds", type=int, default=3, help="rounds per model (medians are printed)")
    p.add_argument("--arch", default="all", help="fcn, cnn or all")
    p.add_argument("--budgets", default=None, help="comma-separated budgets (default: each family's four or three)")
    p.add_argument("--batch-sizes", default="64,256")
    return p.parse_args()


def build_torch_model(torch, layers):
    """The PyTorch nn.Sequential for smallnet's layer summaries, e.g. 'Linear(784 → 117)'."""
    nn = torch.nn
    modules = []
    for text in layers:
        if text == "Flatten":
            modules.append(nn.Flatten())
        elif text == "ReLU":
            modules.append(nn.ReLU())
        elif m := re.fullmatch(r"Linear\((\d+) → (\d+)(, no bias)?\)", text):
            modules.append(nn.Linear(int(m[1]), int(m[2]), bias=m[3] is None))
        elif m := re.fullmatch(r"BatchNorm1d\((\d+)\)", text):
            modules.append(nn.BatchNorm1d(int(m[1])))
        elif m := re.fullmatch(r"BatchNorm2d\((\d+)\)", text):
            modules.append(nn.BatchNorm2d(int(m[1])))
        elif m := re.fullmatch(r"Conv2d\((\d+) → (\d+), (\d+)×\d+(, stride (\d+))?(, pad (\d+))?(, no bias)?\)", text):
            modules.append(nn.Conv2d(int(m[1]), int(m[2]), int(m[3]), stride=int(m[5] or 1), padding=int(m[7] or 0),
                                     bias=m[8] is None))
        elif m := re.fullmatch(r"(Max|Avg)Pool2d\((\d+)(, stride (\d+))?\)", text):
            pool = nn.MaxPool2d if m[1] == "Max" else nn.AvgPool2d
            modules.append(pool(int(m[2]), stride=int(m[4] or m[2])))
        elif text == "GlobalAvgPool2d":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif m := re.fullmatch(r"Dropout\(p=([0-9.]+)\)", text):
            modules.append(nn.Dropout(float(m[1])))
        else:
            raise ValueError(f"no PyTorch equivalent for layer {text!r}")
    return nn.Sequential(*modules)


def make_optimizer(torch, model, config):
    name, lr = config["optimizer"], config["lr"]
    decay = config.get("weight_decay")
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01 if decay is None else decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay or 0)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.get("momentum", 0.9), weight_decay=decay or 0)
    if name == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=lr, momentum=config.get("momentum", 0), weight_decay=decay or 0)
    raise ValueError(name)


def torch_throughput(torch, row, seconds):
    """(train images/s, inference images/s) of the PyTorch twin of a smallnet bench row."""
    batch, config = row["batch_size"], row["config"]
    model = build_torch_model(torch, row["layers"])
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == row["params"], f"PyTorch twin has {n_params} parameters, smallnet {row['params']}"
    optimizer = make_optimizer(torch, model, config)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config["label_smoothing"])
    samples = max(4096, 16 * batch)
    x = torch.rand(samples, 1, 28, 28)
    y = torch.randint(0, 10, (samples,))

    def train_epoch():
        for i in range(0, samples, batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()

    model.train()
    train_epoch()  # warm-up
    done, start = 0, time.perf_counter()
    while True:
        train_epoch()
        done += samples
        if time.perf_counter() - start >= seconds:
            break
    train = done / (time.perf_counter() - start)

    model.eval()
    with torch.inference_mode():
        for i in range(0, samples, batch):
            model(x[i:i + batch])
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for i in range(0, samples, batch):
                torch.softmax(model(x[i:i + batch]), dim=1)
            done += samples
    infer = done / (time.perf_counter() - start)
    return train, infer


def smallnet_bench(args, arch, budgets, batch_sizes, seconds):
    """The report of one `smallnet bench --json` run: {"gemm_peak_gflops": …, "results": [rows]}."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        command = [args.smallnet, "bench", "--threads", str(args.threads), "--seconds", str(seconds),
                   "--arch", arch, "--batch-sizes", batch_sizes, "--json", out]
        if budgets:
            command += ["--budgets", budgets]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def ratio_text(ratios):
    """'2.31x (2.05-2.60)': the median of the per-round ratios and their range."""
    low, high = min(ratios), max(ratios)
    spread = f" ({low:.2f}-{high:.2f})" if len(ratios) > 1 else ""
    return f"{statistics.median(ratios):>5.2f}x{spread:<12}"


def main():
    args = parse_args()
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    try:
        import torch
    except ImportError:
        sys.exit("pytorch_reference.py needs PyTorch: python3 -m venv .venv-bench && "
                 ".venv-bench/bin/pip install torch numpy")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # A short run lists the models and their layers.
    listing = smallnet_bench(args, args.arch, args.budgets, args.batch_sizes, seconds=0.05)
    print(f"smallnet vs PyTorch {torch.__version__}, {args.threads} threads, images/s (ratio = smallnet / PyTorch);"
          f" medians of {args.rounds} rounds")
    header = (f"{'model':<10} {'params':>7} {'batch':>5} | {'train smallnet':>14} {'GFLOP/s':>8} {'PyTorch':>9}"
              f" {'ratio (range)':<18} | {'infer smallnet':>14} {'PyTorch':>9} {'ratio (range)':<18}")
    print(header)
    print("-" * len(header))
    peaks = []
    for row in listing["results"]:
        measured = []  # (smallnet row, PyTorch train, PyTorch inference) per round
        for _ in range(args.rounds):
            mine = smallnet_bench(args, row["arch"], str(row["budget"]), str(row["batch_size"]), args.seconds)
            (mine_row,) = mine["results"]
            peaks.append(mine["gemm_peak_gflops"])
            measured.append((mine_row, *torch_throughput(torch, row, args.seconds)))
        s_train = statistics.median(m["train_images_per_second"] for m, _, _ in measured)
        s_infer = statistics.median(m["infer_images_per_second"] for m, _, _ in measured)
        gflops = statistics.median(m["train_gflops"] for m, _, _ in measured)
        t_train = statistics.median(t for _, t, _ in measured)
        t_infer = statistics.median(t for _, _, t in measured)
        train_ratios = [m["train_images_per_second"] / t for m, t, _ in measured]
        infer_ratios = [m["infer_images_per_second"] / t for m, _, t in measured]
        name = f"{row['arch']}-{row['budget'] // 1000}k"
        print(f"{name:<10} {row['params']:>7} {row['batch_size']:>5} | {s_train:>14,.0f} {gflops:>8.1f}"
              f" {t_train:>9,.0f} {ratio_text(train_ratios)}"
              f" | {s_infer:>14,.0f} {t_infer:>9,.0f} {ratio_text(infer_ratios)}", flush=True)
    print(f"smallnet's GEMM peak in this run (256×256×256, {args.threads} threads): best {max(peaks):.0f},"
          f" median {statistics.median(peaks):.0f} GFLOP/s of {len(peaks)} measurements")


if __name__ == "__main__":
    main()
