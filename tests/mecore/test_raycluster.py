"""mecore.raycluster.start: a new local Ray started on a thread beside the caller's own work, then used."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, threading, time
from mecore import raycluster
raycluster.start("auto", num_cpus=1)
busy = sum(i * i for i in range(2_000_000))  # the caller's own preparation meanwhile
res = raycluster.connect("auto")
import ray
# Ray's processes outlive the thread's ray.init(): tasks keep running after it returned
out = [ray.get(ray.remote(lambda x: x + 1).remote(i), timeout=60) for i in range(3)]
time.sleep(1.0)
out.append(ray.get(ray.remote(lambda: 7).remote(), timeout=60))
print(json.dumps({"cpus": res.get("CPU"), "out": out, "waited": raycluster.waited_s,
                  "threads": [t.name for t in threading.enumerate()]}))
ray.shutdown()
"""


def test_background_start_then_tasks(tmp_path):
    pytest.importorskip("ray", reason="Ray not installed (pip install 'microexpr[ray]')")
    env = {**os.environ, "RAY_worker_niceness": "0", "RAY_ADDRESS": ""}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["cpus"] == 1.0 and got["out"] == [1, 2, 3, 7]
    assert got["waited"] >= 0.0 and "ray-start" in got["threads"]
    assert "not the main thread" not in proc.stderr  # Ray's expected warning is filtered

