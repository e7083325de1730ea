"""Learning curves of this project and of decolle 0.2 on the same digits in the same order (issue 31, item 5).

    python benchmarks/learning.py OUT [--samples 4000] [--first-test 250] [--n-test 1000] [--seed 0]
                                      [--batch 32] [--lr 3e-3] [--adamax-decay 0.999] [--rate-hz 100]
                                      [--ref-batches 64] [--ref-lr 1e-3] [--ref-decay 0.95] [--only STEP]
                                      [--ours-args '...'] [--ref-args '...']

Steps (each skipped when its file exists, so a stopped comparison continues; --only runs one):
  digits     OUT/digits.npz: the split and training order of `brian-decolle mnist --seed S --n-validation 0`
             (benchmarks/dump_digits.py)
  ours       OUT/ours/: `brian-decolle mnist --network small` on cpp_standalone, tested on the first --n-test
             test digits after --first-test training samples, twice, four times as many ... and at the end
  reference  OUT/reference_bB.json per batch B of --ref-batches: decolle 0.2's LenetDECOLLE of the same shape,
             its own recipe (init_LSUV, Adamax betas (0, --ref-decay) every step), in .venv-ref
             (benchmarks/reference.sh makes it), tested on the same digits after 0 and the same numbers of
             samples (benchmarks/reference_learning.py)
  figure     OUT/learning.json (per-layer test accuracy at each point, train and test time; every OUT/ours*/
             run found, so a run of ours with other options can be linked in beside it) and
             OUT/learning.png: best-layer test accuracy against training samples, with the paper code's curve
             as points (its larger network: conv 16-24-32, batch 128, a trained third layer)

Both draw their own Poisson spikes from the same pixels (100 Hz per white pixel by default); each evaluation
point is rounded up to whole batches (ours: whole training runs). Digits: the 5000 bundled real MNIST digits.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PYTHON = ROOT / ".venv-ref" / "bin" / "python"
#: the paper's own code (nmi-lab/dcll, Paper_results; ../shared/reference/decolle-public.md): training samples
#: seen, test accuracy of its best layer (L2 or the trained L3)
PAPER_CODE = [(128, 0.62), (2688, 0.90), (5248, 0.93), (12928, 0.94)]


def points(first: int, samples: int) -> list[int]:
    """0, first, 2 first, 4 first, ... below samples, and samples."""
    out, due = [0], first
    while due < samples:
        out.append(due)
        due *= 2
    return out + [samples]


def run(argv: list, log: Path) -> None:
    print("$", " ".join(str(a) for a in argv), flush=True)
    with open(log, "w") as f:
        done = subprocess.run([str(a) for a in argv], stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"failed (exit {done.returncode}); its output: {log}")


def step_digits(args, out: Path) -> None:
    run([sys.executable, ROOT / "benchmarks" / "dump_digits.py", out / "digits.npz", "--samples", args.samples,
         "--seed", args.seed, "--n-validation", 0, "--n-test", args.n_test], out / "digits.log")


def step_ours(args, out: Path) -> None:
    folder = out / "ours"
    resume = ["--resume"] if (folder / "checkpoint.npz").exists() else []
    run([sys.executable, "-m", "brian_decolle", "mnist", "--network", "small", "--device", "cpp_standalone",
         "--seed", args.seed, "--n-validation", 0, "--n-test", args.n_test, "--train-samples", args.samples,
         "--eval-every", args.first_test, "--eval-spacing", "doubling", "--eval-samples", args.n_test,
         "--batch", args.batch, "--lr", args.lr, "--adamax-decay", args.adamax_decay, "--max-rate-hz", args.rate_hz,
         "--out", folder, *resume, *args.ours_args.split()], out / "ours.log")


def step_reference(args, out: Path) -> None:
    if not REFERENCE_PYTHON.exists():
        raise SystemExit(f"{REFERENCE_PYTHON} is missing: benchmarks/reference.sh makes decolle 0.2's environment")
    for batch in args.ref_batches:
        target = out / f"reference_b{batch}.json"
        if target.exists():
            continue
        run([REFERENCE_PYTHON, ROOT / "benchmarks" / "reference_learning.py", out / "digits.npz", target,
             "--batch", batch, "--lr", args.ref_lr, "--decay", args.ref_decay, "--rate-hz", args.rate_hz,
             "--evaluate-at", ",".join(map(str, points(args.first_test, args.samples))), "--n-test", args.n_test,
             "--seed", args.seed, *args.ref_args.split()], out / f"reference_b{batch}.log")


def curves(out: Path) -> list[dict]:
    """One curve per run found in OUT: label, batch, points (samples, accuracy per layer), times."""
    found = []
    for summary in sorted(out.glob("ours*/summary.json")):
        s = json.loads(summary.read_text())
        config = json.loads((summary.parent / "config.json").read_text())
        net, init = config["network"], config["schedule"]
        recipe = (f"{net['optimiser']} lr {net['lr']:g}, decay {net['adamax_decay']:g}"
                  if net["optimiser"] == "adamax" else f"{net['optimiser']} lr {net['lr']:g}")
        recipe += (f", LSUV {init['init_rate_hz']:g} Hz" if init["init_rate_hz"]
                   else f", LSUV u {init['init_u_mean']:g}/{init['init_u_std']:g}")
        found.append({"label": f"brian-decolle, batch {s['batch']} ({recipe}; {summary.parent.name})",
                      "batch": s["batch"],
                      "points": [(e["training_samples"], e["accuracy_per_layer"], e["n_test"])
                                 for e in s["evaluations"] if e["split"] == "test"],
                      "train_time_s": s["train_time_s_per_sample"] * s["training_samples"],
                      "test_time_s": s["test_time_s"], "wall_time_s": s["wall_time_s"]})
    for path in sorted(out.glob("reference_b*.json")):
        r = json.loads(path.read_text())
        n_test = r["settings"]["n_test"]
        found.append({"label": f"decolle 0.2, batch {r['settings']['batch']} (adamax lr {r['settings']['lr']:g}, "
                               f"decay {r['settings']['decay']:g}, LSUV u 0/1)", "batch": r["settings"]["batch"],
                      "points": [(e["training_samples"], e["accuracy_per_layer"], n_test) for e in r["evaluations"]],
                      "train_time_s": r["train_time_s"], "test_time_s": r["test_time_s"],
                      "wall_time_s": r["train_time_s"] + r["test_time_s"]})
    return found


def step_figure(out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = curves(out)
    if not found:
        raise SystemExit(f"nothing to draw: no ours/summary.json or reference_b*.json in {out}")
    (out / "learning.json").write_text(json.dumps({"curves": found, "paper_code": PAPER_CODE}, indent=1))
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    for curve in found:
        xs = [max(n, 1) for n, _, _ in curve["points"]]   # (0 samples drawn at 1 on the log axis)
        ax.plot(xs, [max(acc) for _, acc, _ in curve["points"]], "o-", label=curve["label"])
        print(f"{curve['label']}: " + ", ".join(f"{n}: {' / '.join(f'{a:.3f}' for a in acc)} ({k} digits)"
                                                for n, acc, k in curve["points"])
              + f"; train {curve['train_time_s']:.0f} s, test {curve['test_time_s']:.0f} s")
    ax.plot(*zip(*PAPER_CODE), "k*", markersize=9,
            label="the paper's code (conv 16-24-32, batch 128, trained L3; its own digits)")
    ax.axhline(0.1, color="grey", linestyle=":", label="chance (10 classes)")
    ax.set_xscale("log")
    ax.set_xlabel("training samples (0 drawn at 1)")
    ax.set_ylabel("best-layer test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("Poisson MNIST (bundled real digits), MNIST small network (conv 8-12)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))   # (below: the curves fill the axes)
    fig.tight_layout()
    fig.savefig(out / "learning.png", dpi=150)
    print(f"{out / 'learning.json'}, {out / 'learning.png'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=4000, help="training samples")
    parser.add_argument("--first-test", type=int, default=250, help="training samples before the first test")
    parser.add_argument("--n-test", type=int, default=1000, help="test digits of every test (a multiple of 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=32, help="ours: replicas (minibatch)")
    parser.add_argument("--lr", type=float, default=3e-3, help="ours: Adamax's learning rate per step")
    parser.add_argument("--adamax-decay", type=float, default=0.999, help="ours: Adamax's decay")
    parser.add_argument("--ours-args", default="", help="ours: more `brian-decolle mnist` options, e.g. '--reg-u 0.01'")
    parser.add_argument("--rate-hz", type=float, default=100.0, help="Poisson rate of a white pixel (both)")
    parser.add_argument("--ref-batches", type=lambda s: [int(b) for b in s.split(",")], default=[64],
                        help="decolle 0.2: the batches to run, comma-separated (e.g. 1,64)")
    parser.add_argument("--ref-lr", type=float, default=1e-3, help="decolle 0.2: Adamax's learning rate")
    parser.add_argument("--ref-decay", type=float, default=0.95, help="decolle 0.2: Adamax's decay")
    parser.add_argument("--ref-args", default="", help="decolle 0.2: more reference_learning.py options")
    parser.add_argument("--only", choices=("digits", "ours", "reference", "figure"))
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "digits") and not (out / "digits.npz").exists():
        step_digits(args, out)
    if args.only in (None, "ours") and not (out / "ours" / "summary.json").exists():
        step_ours(args, out)
    if args.only in (None, "reference"):
        step_reference(args, out)
    if args.only in (None, "figure"):
        step_figure(out)


if __name__ == "__main__":
    main()
