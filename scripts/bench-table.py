#!/usr/bin/env python3
"""The workload table of docs/PERFORMANCE.md from `emcomm bench --json` output.

    build/experiments/emcomm bench --json --seconds 10 --vs-python > bench.json
    scripts/bench-table.py bench.json            # prints the Markdown table
    scripts/bench-table.py bench.json --update docs/PERFORMANCE.md
        # replaces the text between the <!-- bench-table --> and <!-- /bench-table --> markers
"""
import argparse
import json
import sys

from tables import replace_between

BEGIN, END = "<!-- bench-table -->", "<!-- /bench-table -->"


def fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def share(w):
    s = f"{w['cpu_seconds'] / w['seconds']:.2f}"
    return s + (f" / {w['python_cpu_share']:.2f}" if "python_cpu_share" in w else "")


def ratio(w):
    return f"{w['vs_python']:.2f}×" if "vs_python" in w else "–"


def table(d):
    m, p = d["machine"], d["peak"]
    la = ", ".join(f"{x:.1f}" for x in m["load_average_start"])
    le = ", ".join(f"{x:.1f}" for x in m["load_average_end"])
    lines = [
        f"Machine: {m['cores']} cores, {m['cpu']}; BLAS `{m['blas']}`; LibTorch {m['torch']}; "
        f"{m['threads']} thread(s); load average {la} at the start, {le} at the end. "
        f"Matmul peak ({p['matmul_size']}² float `torch::mm`): {p['gflops_1_thread']:.1f} GFLOP/s on 1 thread, "
        f"{p['gflops']:.1f} on {p['threads']}. {d['seconds']:g} s per workload.",
        "",
        "| workload | rate | unit | flops fraction | Python | ratio to Python | CPU share (C++ / Python) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for name, w in d["workloads"].items():
        ff = "–" if w["flops_fraction"] is None else f"{100 * w['flops_fraction']:.0f} %"
        py = w.get("python_rate")
        lines.append(
            f"| {name} | {fmt_rate(w['rate'])} | {w['unit']} | {ff} | "
            f"{fmt_rate(py) if py else '–'} | {ratio(w)} | {share(w)} |"
        )
    lines += [
        "",
        "CPU share: CPU seconds of the process over wall seconds while measuring (1.00 = a whole core "
        "on one thread; less means other processes took the core and the rate is low by that much).",
    ]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json_file")
    ap.add_argument("--update", metavar="MARKDOWN", help="replace the table between the markers in this file")
    a = ap.parse_args()
    with open(a.json_file) as f:
        t = table(json.load(f))
    if not a.update:
        sys.stdout.write(t)
        return
    replace_between(a.update, BEGIN, END, t, "bench-table")


if __name__ == "__main__":
    main()
