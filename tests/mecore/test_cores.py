"""mecore.cores.pin: each worker process claims cores no other worker holds, until it ends."""

import json
import os
import subprocess
import sys

import pytest

from mecore import cores

CLAIM = """
import json, os, sys
from mecore.cores import pin
got = pin(1)
print(json.dumps([sorted(got) if got else None, sorted(os.sched_getaffinity(0))]), flush=True)
sys.stdin.readline()  # hold the claim until the test lets go
"""


class Claimer:
    """A worker process that pins itself to one core and holds it until released."""

    def __init__(self, env):
        self.proc = subprocess.Popen([sys.executable, "-c", CLAIM], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.claimed, self.affinity = json.loads(self.proc.stdout.readline())

    def release(self):
        self.proc.communicate("\n", timeout=30)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_workers_get_cores_of_their_own_and_release_them(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # a lock folder of this test's own
    n = len(os.sched_getaffinity(0))
    workers = []
    try:
        for _ in range(n + 1):
            workers.append(Claimer(env))
        held = [w.claimed for w in workers[:n]]
        assert all(c is not None and len(c) == 1 for c in held)
        assert len({c[0] for c in held}) == n  # no core twice
        assert all(w.affinity == w.claimed for w in workers[:n])  # and pinned there
        assert workers[n].claimed is None and len(workers[n].affinity) == n  # none free: left unpinned
    finally:
        for w in workers:
            w.release()
    later = Claimer(env)  # the claims ended with their processes
    later.release()
    assert later.claimed is not None and len(later.claimed) == 1


def test_all_cores_or_none_is_not_pinned():
    assert cores.pin(0) is None
    assert cores.pin(len(os.sched_getaffinity(0))) is None
