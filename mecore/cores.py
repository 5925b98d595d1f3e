"""Pin a worker process to CPU cores no other worker on this machine holds.

Two analysers on two cores, left to the scheduler, migrate between them and their helper threads
(MediaPipe's, OpenCV's, ONNX Runtime's) contend: `stream.batch` over 8 demo clips on a local Ray took
0.61x the serial time unpinned and 0.54x / 0.60x pinned, its CPU seconds 45 -> 35 (docs/scale.md). Ray and process pools do not say
which core a worker has, so the claim is a lock file per core (``<tmp>/microexpr-cores/<core>.lock``),
held for the process's life and released by the OS when it ends, however it ends.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_held: list = []  # the open, locked files of the cores this process is pinned to


def pin(n: int) -> set[int] | None:
    """Pin this process to ``n`` free cores (once; later calls return the same set); None, unpinned,
    when fewer are free or n covers every core anyway."""
    if _held:
        return set(os.sched_getaffinity(0))
    import fcntl

    allowed = sorted(os.sched_getaffinity(0))
    if n < 1 or n >= len(allowed):
        return None
    folder = Path(tempfile.gettempdir()) / "microexpr-cores"
    folder.mkdir(exist_ok=True)
    got = []
    for core in allowed:
        f = open(folder / f"{core}.lock", "a")  # noqa: SIM115 - held open: the lock is the claim
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        got.append((core, f))
        if len(got) == n:
            break
    if len(got) < n:
        for _, f in got:
            f.close()
        return None
    _held.extend(f for _, f in got)
    os.sched_setaffinity(0, {core for core, _ in got})
    return {core for core, _ in got}
