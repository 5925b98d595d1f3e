"""``python -m train.datasets report --dataset NAME --root PATH``: what the project makes of your copy.

Prints the rows read and kept, every skipped row's reason (counted, and each row with its sheet row),
the rows outside the class set by emotion, the classes, the subjects, how often each AU is coded, and
AU-cell text that is not an AU (ignored). Nothing is written; the frames are only looked up, not read.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter

from mecore.errors import run_cli
from train.datasets import APEX_MISSING, DATASETS, DatasetWarning, ReadResult, read


def _counts(counter: Counter, key=None) -> str:
    items = sorted(counter.items(), key=key or (lambda kv: (-kv[1], str(kv[0]))))
    return ", ".join(f"{k} {n}" for k, n in items) or "none"


def report_text(name: str, root: str, class_set: str, res: ReadResult, rows_shown: int = 20) -> str:
    rows = len(res.samples) + len(res.skipped) + res.excluded
    subjects = Counter(s.subject for s in res.samples)
    aus = Counter(a for s in res.samples for a in s.aus)
    lines = [f"{name} at {root} (class set {class_set})",
             f"  rows read: {rows}",
             f"  kept: {len(res.samples)}" + (f" ({res.apex_filled} without a coded apex, apex chosen)"
                                              if res.apex_filled else ""),
             f"  skipped: {len(res.skipped)}" + (f" ({_counts(res.reasons)})" if res.reasons else "")]
    lines += [f"    {msg}" for msg in res.skipped[:rows_shown]]
    if len(res.skipped) > rows_shown:
        lines.append(f"    ... and {len(res.skipped) - rows_shown} more")
    lines += [f"  outside the class set: {res.excluded}" + (f" ({_counts(res.excluded_by)})" if res.excluded_by else ""),
              f"  classes: {_counts(Counter(s.label for s in res.samples))}",
              f"  subjects: {len(subjects)} ({_counts(subjects, key=lambda kv: str(kv[0]))})",
              f"  AUs coded (samples): {_counts(aus, key=lambda kv: kv[0])}"]
    if res.au_text:
        lines.append("  AU-cell text that is not an AU (ignored, rows kept): " + "; ".join(
            f"{t!r} x{len(w)} (first {w[0]})" for t, w in sorted(res.au_text.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.datasets", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report", help="kept / skipped / excluded rows by reason, classes, subjects, AUs")
    r.add_argument("--dataset", required=True, choices=list(DATASETS))
    r.add_argument("--root", required=True, help="the dataset's folder")
    r.add_argument("--class-set", help="class set (default: the dataset's own)")
    r.add_argument("--apex-missing", default="skip", choices=APEX_MISSING,
                   help="a row without a coded apex: skip (default, as MEGC 2019), middle or motion")
    r.add_argument("--sample-list", help="composite: a sample list (default: the MEGC 2019 list)")
    r.add_argument("--all-rows", action="store_true", help="list every skipped row (default: the first 20)")
    args = ap.parse_args(argv)

    def body() -> int:
        opts = {"sample_list": args.sample_list} if args.sample_list else {}
        with warnings.catch_warnings():  # the report lists the rows itself
            warnings.simplefilter("ignore", DatasetWarning)
            res = read(args.dataset, args.root, class_set=args.class_set, apex_missing=args.apex_missing, **opts)
        class_set = args.class_set or DATASETS[args.dataset][1]
        print(report_text(args.dataset, args.root, class_set, res, rows_shown=10**9 if args.all_rows else 20))
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
