"""Rewriting a generated table in a Markdown document between two marker comments.

Used by scripts/bench-table.py and scripts/results/*.py (`--update DOC`).
"""
import sys


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
