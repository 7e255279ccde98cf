#!/usr/bin/python3
"""Draws emcomm results into PNG files (headless; python3-h5py and python3-matplotlib).

  plot.py RUN.h5 [RUN.h5 ...] [--metric NAME ...] [--out FILE.png]
      learning curves of one or many run files: one panel per scalar (default: every
      sp_acc/*, listener_human_acc/* and speaker_human_match/* series present, and
      reward/mean; otherwise the first six series that are not per agent or time/*), one
      line per run, with markers (a one-evaluation series shows as a dot).
  plot.py --compare DIR [--metric NAME ...]
      for an 'emcomm compare' or 'emcomm sweep' directory: DIR/compare.png, a bar chart of
      each variant's mean final figure with its 95 % confidence interval (from
      DIR/results.csv), and DIR/curves.png, the mean learning curve of each variant over its
      seeds of the headline figure (sp_acc/val, listener_human_acc/val or reward/mean,
      whichever the runs have first; or the first --metric). Works from any directory; a run
      listed as ok whose run.h5 is missing is an error (nothing is drawn).
  plot.py --matrix RUN.h5 [--name crossplay/val] [--step N] [--out FILE.png]
      a heatmap of one /matrices series at one step (default: the last), e.g. the population's
      cross-play accuracies (speaker rows, listener columns; grey = pair not evaluated).
Exit codes: 0 done, 2 bad input (missing file, nothing to plot)."""
import argparse
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

DEFAULT_PREFIXES = ("sp_acc/", "listener_human_acc/", "speaker_human_match/")
DEFAULT_NAMES = ("reward/mean",)
# The figure each algorithm reports first (emcomm's headline), in order of preference.
HEADLINES = ("sp_acc/val", "listener_human_acc/val", "reward/mean")
PER_AGENT = ("/sender", "/agent", "/receiver", "/listener", "/speaker", "/member")
T95 = [0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def fail(msg):
    print(f"plot.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_scalars(path):
    """{logical name: (steps, values)} of one run file."""
    try:
        with h5py.File(path, "r") as f:
            if "scalars" not in f:
                fail(f"{path} has no /scalars group (not an emcomm run file?)")
            return {name.replace(":", "/"): (g["step"][:], g["value"][:]) for name, g in f["scalars"].items()}
    except OSError as e:
        fail(f"cannot read {path}: {e}")


def per_agent(name):
    return any(part in name for part in PER_AGENT)


def default_metrics(names):
    chosen = [n for n in sorted(names) if n.startswith(DEFAULT_PREFIXES) and n.count("/") == 1]
    chosen += [n for n in DEFAULT_NAMES if n in names]
    if chosen:
        return chosen
    rest = [n for n in DEFAULT_NAMES if n in names]
    rest += sorted(n for n in names if not n.startswith(("time/", "train/")) and not per_agent(n) and n not in rest)
    return rest[:6] or sorted(names)[:6]


def headline(metrics, requested):
    if requested:
        return metrics[0]
    for h in HEADLINES:
        if h in metrics:
            return h
    return metrics[0]


def panels(n):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def plot_runs(paths, metrics, out):
    runs = [(p, read_scalars(p)) for p in paths]
    names = set().union(*(s.keys() for _, s in runs))
    metrics = metrics or default_metrics(names)
    metrics = [m for m in metrics if m in names]
    if not metrics:
        fail("none of the requested scalars is in the run files")
    fig, axes = panels(len(metrics))
    for ax, m in zip(axes, metrics):
        for path, scalars in runs:
            if m in scalars:
                steps, values = scalars[m]
                ax.plot(steps, values, marker="o", markersize=3,
                        label=os.path.basename(os.path.dirname(os.path.abspath(path))))
        ax.set_title(m)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if len(runs) <= 10:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"{out}: {', '.join(metrics)} of {len(runs)} run(s)")


def mean_ci(xs):
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return mean, (T95[n - 1] if n - 1 < len(T95) else 1.96) * sd / math.sqrt(n)


def run_file_of(directory, run_dir):
    """The run.h5 of a results.csv row: run_dir is absolute (emcomm compare writes it so);
    an older, relative one is looked up relative to the working directory, then in DIR."""
    if os.path.isabs(run_dir) or os.path.exists(run_dir):
        return os.path.join(run_dir, "run.h5")
    return os.path.join(directory, os.path.basename(os.path.normpath(run_dir)), "run.h5")


def plot_compare(directory, metrics):
    requested = bool(metrics)
    path = os.path.join(directory, "results.csv")
    if not os.path.exists(path):
        fail(f"{path} does not exist (run 'emcomm compare' first)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail(f"{path} has no runs")
    fixed = ["seed", "status", "error", "run_dir"]
    header = list(rows[0].keys())
    varied = header[: header.index("seed")]
    finals = [h for h in header if h not in fixed and h not in varied]
    metrics = metrics or default_metrics(finals)
    metrics = [m for m in metrics if m in finals]
    if not metrics:
        fail("none of the requested metrics is in results.csv")
    variants = []
    for r in rows:
        key = ", ".join(f"{k}={r[k]}" for k in varied) or "base"
        if key not in variants:
            variants.append(key)

    def group(key):
        return [r for r in rows if (", ".join(f"{k}={r[k]}" for k in varied) or "base") == key and r["status"] == "ok"]

    # Every finished run's file must be there before anything is drawn (an earlier good
    # curves.png is not replaced by an empty one).
    missing = [run_file_of(directory, r["run_dir"]) for r in rows if r["status"] == "ok"]
    missing = [f for f in missing if not os.path.exists(f)]
    if missing:
        fail(f"{len(missing)} finished run(s) of {path} have no run file: {', '.join(missing[:3])}"
             f"{' ...' if len(missing) > 3 else ''}")

    fig, axes = panels(len(metrics))
    for ax, m in zip(axes, metrics):
        means, cis = [], []
        for v in variants:
            xs = [float(r[m]) for r in group(v) if r[m] not in ("", "nan")]
            mu, ci = mean_ci(xs) if xs else (float("nan"), 0.0)
            means.append(mu)
            cis.append(ci)
        ax.bar(range(len(variants)), means, yerr=cis, capsize=3, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(variants)))
        ax.set_xticklabels([v.split("=")[-1] if len(varied) == 1 else v for v in variants], rotation=45,
                           ha="right", fontsize=8)
        ax.set_title(m)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = os.path.join(directory, "compare.png")
    fig.savefig(out, dpi=100)
    print(f"{out}: {', '.join(metrics)} of {len(variants)} variant(s)")

    # Mean learning curve of each variant.
    curve_metric = headline(metrics, requested)
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = 0
    for v in variants:
        curves = []
        for r in group(v):
            s = read_scalars(run_file_of(directory, r["run_dir"]))
            if curve_metric in s:
                curves.append(s[curve_metric])
        if not curves:
            continue
        n = min(len(c[0]) for c in curves)
        steps = curves[0][0][:n]
        mean = [sum(c[1][i] for c in curves) / len(curves) for i in range(n)]
        ax.plot(steps, mean, marker="o", markersize=3, label=v)
        drawn += 1
    if drawn == 0:
        fail(f"no finished run of {path} has the series '{curve_metric}'")
    ax.set_title(f"{curve_metric} (mean over seeds)")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = os.path.join(directory, "curves.png")
    fig.savefig(out, dpi=100)
    print(f"{out}: {curve_metric} of {drawn} variant(s)")


def plot_matrix(path, name, step, out):
    """Heatmap of /matrices/<name> at `step` (None: the last point)."""
    import numpy as np

    try:
        with h5py.File(path, "r") as f:
            link = name.replace("/", ":")
            if "matrices" not in f or link not in f["matrices"]:
                have = [n.replace(":", "/") for n in f["matrices"]] if "matrices" in f else []
                fail(f"{path} has no matrix '{name}'; its matrices are: {', '.join(have) or '(none)'}")
            steps = f["matrices"][link]["step"][:]
            if len(steps) == 0:
                fail(f"{path}: matrix '{name}' has no points")
            if step is None:
                i = len(steps) - 1
            else:
                where = np.nonzero(steps == step)[0]
                if len(where) == 0:
                    fail(f"{path}: matrix '{name}' has no point at step {step}; its steps: {steps.tolist()}")
                i = int(where[0])
            m = f["matrices"][link]["value"][i]
            step = int(steps[i])
    except OSError as e:
        fail(f"cannot read {path}: {e}")
    n_rows, n_cols = m.shape
    size = max(4.0, min(14.0, 0.25 * max(n_rows, n_cols) + 2))
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    cmap = matplotlib.colormaps["viridis"].copy()
    cmap.set_bad("lightgrey")
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xlabel("listener")
    ax.set_ylabel("speaker")
    ax.set_title(f"{name} at step {step}")
    if max(n_rows, n_cols) <= 12:
        for r in range(n_rows):
            for c in range(n_cols):
                if not np.isnan(m[r, c]):
                    ax.text(c, r, f"{m[r, c]:.2f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", help="run files (run.h5)")
    ap.add_argument("--compare", metavar="DIR", help="an 'emcomm compare' output directory")
    ap.add_argument("--metric", action="append", default=[], help="a scalar / final metric name (repeatable)")
    ap.add_argument("--out", default=None, help="output PNG (default curves.png, matrix.png with --matrix)")
    ap.add_argument("--matrix", metavar="RUN.h5", help="draw a /matrices series of this run file as a heatmap")
    ap.add_argument("--name", default="crossplay/val", help="--matrix: the matrix series (default crossplay/val)")
    ap.add_argument("--step", type=int, default=None, help="--matrix: the step (default: the last)")
    a = ap.parse_args()
    if a.matrix:
        if not os.path.exists(a.matrix):
            fail(f"{a.matrix} does not exist")
        plot_matrix(a.matrix, a.name, a.step, a.out or "matrix.png")
    elif a.compare:
        plot_compare(a.compare, a.metric)
    elif a.runs:
        for p in a.runs:
            if not os.path.exists(p):
                fail(f"{p} does not exist")
        plot_runs(a.runs, a.metric, a.out or "curves.png")
    else:
        ap.print_usage(sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
