"""Exporting a run's messages for other tools: the Python face of ``emcomm export``.

    python -m emcomm.export RUN.h5 --format elcc OUT_DIR [--split S] [--step latest|all|N] [--overwrite]

is ``emcomm export`` run in this process, and ``export_elcc`` calls the same C++ function
(experiments/export_command.cc), so both write the same bytes: OUT_DIR/corpus.jsonl (one message
per line, a JSON array of its integer tokens) and OUT_DIR/metadata.json (origin, system and corpus
fields; docs/python.md "Export"). Bad input raises ValueError (exit code 2 on the command line)
with the CLI's message.
"""
import os
import sys

from . import _emcomm


def export_elcc(run, out_dir, split=None, step="latest", overwrite=False):
    """Writes corpus.jsonl and metadata.json of `split` (None: val, else the run's only split,
    e.g. eval for the Markov games; rows of `step`: "latest", "all" or a
    step number) of `run` (RUN.h5, a run directory or an emcomm.Run) to `out_dir`, which must not
    exist unless `overwrite`; returns the number of lines written."""
    if isinstance(run, _emcomm.Run):
        run = run.path
    if not isinstance(step, str):
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"step must be 'latest', 'all' or an int, got {type(step).__name__}")
        step = str(step)
    return _emcomm._export_elcc(os.fspath(run), os.fspath(out_dir), split or "", step, bool(overwrite))[0]


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _emcomm._export_command(args)
    except ValueError as e:
        sys.stdout.flush()
        print(f"emcomm: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
