"""The output folder of the generator: never write into a user's folder, clean up our own.

A folder is ours when it holds ``MARKER`` (written first, before any frame). Re-running into it
first deletes what the previous run listed there, so a smaller run leaves no stale clips behind.
Anything else that is not empty is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mecore import atomic
from mecore.errors import MexError

MARKER = ".synth_me.json"
GENERATOR = "train.synth_me"
VERSION = 1


def _previous_outputs(out: Path) -> list[str]:
    try:
        meta = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        raise MexError(f"{out / MARKER}: unreadable synth marker; remove the folder or choose another --out") from None
    if meta.get("generator") != GENERATOR:
        raise MexError(f"{out / MARKER}: not written by {GENERATOR}; refusing to write into {out}")
    return list(meta.get("outputs", []))


def claim(out: str | Path, settings: dict, planned: list[str]) -> Path:
    """Make ``out`` ours (empty, new, or a previous synth output, whose files are removed).

    ``planned``: the relative paths this run will write, recorded before any is written so that
    even an interrupted run is cleaned up by the next one.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MexError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise MexError(f"{out}: folder is not empty and is not a synth_me output; refusing to overwrite it")
        root = out.resolve()
        for rel in _previous_outputs(out):
            target = (out / rel).resolve()
            if root not in target.parents:  # a tampered marker must not delete outside the folder
                continue
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    finish(out, settings, planned, complete=False)
    return out


def finish(out: Path, settings: dict, outputs: list[str], complete: bool = True) -> None:
    """Record what this run wrote (relative paths) so the next run can clean up."""
    meta = {"generator": GENERATOR, "version": VERSION, "complete": complete, "settings": settings,
            "outputs": sorted(set(outputs))}
    atomic.write_json(out / MARKER, meta)


SPLIT = "identities.json"


def write_split(out: Path, split: dict, identities) -> None:
    """Who is in the training set and who is held out (persons and their sources): ``identities.json``."""
    where = {i.person: {"kind": i.kind, "path": i.path, "origin": i.origin, "face": i.face} for i in identities}
    atomic.write_json(out / SPLIT, {"generator": GENERATOR, **split,
                                    "sources": {p: where[p] for p in split["train"] + split["holdout"]}})
