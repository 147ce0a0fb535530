"""Training and inference speed of each kernel variant this CPU runs, side by side.

Runs `smallnet bench` once per variant (SMALLNET_ISA=avx512|avx2|baseline) in rounds, the variants
back to back within a round so that the machine's drift falls on all of them alike, and prints for
every model the median images/s of each variant and the median of its per-round ratio to the
variant the library picks by itself (the best one), with the range of that ratio.

    python3 bench/isa_variants.py [--rounds 3] [--seconds 1.5] [--bin .build/release/smallnet]
                                  [-- extra smallnet bench options, e.g. --arch cnn]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def runnable_variants(binary):
    """The variants `smallnet info` says exist, best first, keeping those this CPU runs."""
    env = {k: v for k, v in os.environ.items() if k != "SMALLNET_ISA"}  # the library's own choice
    info = subprocess.run([binary, "info"], check=True, capture_output=True, text=True, env=env).stdout
    match = re.search(r"^isa: (\S+) .*variants: ([a-z0-9, ]+)\)", info, re.MULTILINE)
    if not match:
        sys.exit(f"isa_variants: `{binary} info` does not say which kernel variants exist:\n{info}")
    best, every = match.group(1), [v.strip() for v in match.group(2).split(",")]
    return every[every.index(best):]


def bench(binary, isa, seconds, extra):
    """One `smallnet bench` with the variant forced: {(model, batch): (train img/s, infer img/s)}."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = dict(os.environ, SMALLNET_ISA=isa)
        subprocess.run([binary, "bench", "--seconds", str(seconds), "--json", out.name, *extra],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        results = json.load(open(out.name))["results"]
    return {(f"{r['arch']}-{r['budget'] // 1000}k", r["batch_size"]):
            (r["train_images_per_second"], r["infer_images_per_second"]) for r in results}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--bin", default=".build/release/smallnet")
    parser.add_argument("extra", nargs="*", help="options passed on to smallnet bench")
    args = parser.parse_args()

    variants = runnable_variants(args.bin)
    print(f"kernel variants on this CPU: {', '.join(variants)} ({args.rounds} rounds)")
    rounds = []
    for k in range(args.rounds):
        rounds.append({isa: bench(args.bin, isa, args.seconds, args.extra) for isa in variants})
        print(f"round {k + 1} done", file=sys.stderr)

    best = variants[0]
    header = f"{'model':<12}{'batch':>6}  {'variant':<9}{'train img/s':>12}{'infer img/s':>12}   ratio to {best}: train, infer"
    print(header)
    for key in rounds[0][best]:
        for isa in variants:
            train = statistics.median(r[isa][key][0] for r in rounds)
            infer = statistics.median(r[isa][key][1] for r in rounds)
            line = f"{key[0]:<12}{key[1]:>6}  {isa:<9}{train:>12.0f}{infer:>12.0f}"
            if isa != best:
                ratios = []
                for which in (0, 1):
                    per_round = [r[isa][key][which] / r[best][key][which] for r in rounds]
                    ratios.append(f"{statistics.median(per_round):.2f} ({min(per_round):.2f}–{max(per_round):.2f})")
                line += "   " + ", ".join(ratios)
            print(line)


if __name__ == "__main__":
    main()
