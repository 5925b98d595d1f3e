"""stream.batch's videos as Ray tasks: one task per video (one CPU each), retried once if its worker dies.

Each task writes its video's outputs into the output folder itself, so with a cluster the inputs and
``--out`` must be paths every node sees (a shared file system; docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from mecore.raycluster import connect, ray_module, why


def _task(cfg, job, threads: int):
    from stream.batch import worker_task

    return worker_task(cfg, job, threads)


def execute(cfg, todo: list, threads: int = 1) -> Iterator:
    """VideoResults as the tasks finish; a task whose worker died twice is a failed video, named."""
    from stream.batch import VideoResult

    ray = ray_module()
    connect(cfg.ray)
    task = ray.remote(_task).options(num_cpus=threads, max_retries=1)
    pending = {task.remote(cfg, job, threads): job for job in todo}
    try:
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ref)
            try:
                yield ray.get(ref)
            except ray.exceptions.RayError as exc:
                yield VideoResult(job.name, str(job.input), "failed", error=f"worker failed: {why(exc)}")
    finally:
        for ref in pending:  # interrupted: the rest are not started (their outputs are only ever atomic)
            ray.cancel(ref, force=True)
