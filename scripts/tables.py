"""Helpers of the scripts that write the tables of docs/RESULTS.md and docs/PERFORMANCE.md:
comma-separated option values, opening a run.h5 for reading, mean +- 95 % CI over seeds, and
rewriting a generated table between two marker comments.

Used by scripts/bench-table.py, scripts/mcg-tables.py and scripts/results/*.py.
"""
import math
import os
import sys

# Two-sided 95 % Student t quantiles by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def comma_list(text):
    """The non-empty items of a comma-separated option value ("" or None: none)."""
    return [item for item in text.split(",") if item] if text else []


def open_run_h5(run_dir, option):
    """run_dir/run.h5 opened read-only with h5py (imported here, so scripts that read no run.h5
    need no h5py), without HDF5 file locking unless the caller's environment sets it. Without
    h5py: ValueError naming `option` (what needs the file) and the package to install."""
    try:
        import h5py
    except ImportError:
        raise ValueError(f"{option} reads run.h5 with h5py: install python3-h5py") from None
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    return h5py.File(os.path.join(run_dir, "run.h5"), "r")


def mean_ci(values, fmt=".3f"):
    """"mean ± half-width of the 95 % CI" (Student t) of the finite values, each number in
    format `fmt`; the mean alone for one value; "–" for none."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "–"
    n = len(vals)
    mean = sum(vals) / n
    if n == 1:
        return f"{mean:{fmt}}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = T95.get(n - 1, 1.96) * sd / math.sqrt(n)
    return f"{mean:{fmt}} ± {half:{fmt}}"


def read_between(path, begin, end):
    """What lies between the `begin` and `end` markers of `path`, without the newlines next to
    the markers; None when the markers are missing."""
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        return None
    return doc.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_between(path, begin, end, text, tool):
    """Replaces what lies between the `begin` and `end` markers of `path` with `text`
    (a newline is added after `begin` and before `end` as needed); exits naming `tool`
    when the markers are missing."""
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        sys.exit(f"{tool}: {path} has no {begin} ... {end} markers")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = text if text.endswith("\n") else text + "\n"
    with open(path, "w") as f:
        f.write(head + begin + "\n" + body + end + tail)
