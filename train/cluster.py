"""LOSO on Ray: the preprocessing cache and the folds as tasks on a cluster (``python -m train.loso --ray``).

The same code runs on a laptop (a local Ray) and on a cluster (``ray start --head`` and workers joining;
see docs/scale.md). The driver keeps everything that is written: cache entries come back through the
object store and the driver stores them (unless ``--ray-shared-cache`` says every node sees ``--cache``),
fold results come back as values and the driver writes them into ``--out``. The input tensor of the
folds goes into the object store once. Ray is imported (mecore.raycluster) only when a run asks for it.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mecore.errors import MexError
from mecore.raycluster import connect, ray_module, why


@dataclass(frozen=True)
class RayOptions:
    address: str = "auto"  # auto: this machine's cluster (ray start, RAY_ADDRESS) or else a new local Ray
    shared_cache: bool = False  # workers write cache entries into the cache folder themselves (shared FS)
    retries: int = 2  # further attempts of a fold that raised or whose worker died
    threads: int = 1  # CPUs per task: torch / ONNX Runtime threads
    fold_gpus: float | None = None  # GPUs per fold task; None: 1 when the cluster has GPUs, else 0
    batch: int = 0  # samples per cache task; 0: about four tasks per worker

    def __post_init__(self):
        if self.retries < 0 or self.threads < 1 or self.batch < 0:
            raise MexError(f"Ray options: retries >= 0, threads >= 1, batch >= 0, got {self}")


@functools.cache
def _cache_actor():
    ray = ray_module()

    @ray.remote(max_restarts=2, max_task_retries=2)
    class CacheActor:
        """A Ray worker's CacheWorker: the magnifier and the face tracker load once per actor."""

        def __init__(self, init: tuple, shared: bool):
            from mecore.cores import pin
            from train.cache import CacheWorker

            pin(init[2])  # its `threads` cores, while free: two actors on two cores stop trading places
            self.worker = CacheWorker(*init).__enter__()
            self.shared = shared

        def run(self, batch: list) -> list:
            if self.shared:
                return [self.worker.compute(s, Path(out), f) for s, out, f in batch]
            return [self.worker.arrays(s, f) for s, _, f in batch]

        def close(self) -> None:
            self.worker.close()

    return CacheActor


def cache_results(todo: list, init: tuple, opts: RayOptions) -> Iterator[tuple[str, str | None]]:
    """(sample key, failure or None) as batches finish: one task per batch of samples on a pool of actors."""
    from train import cache

    ray = ray_module()
    cpus = connect(opts.address).get("CPU", 1)
    n = max(1, min(len(todo), int(cpus // opts.threads)))
    size = opts.batch or max(1, math.ceil(len(todo) / (4 * n)))
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    actor = _cache_actor().options(num_cpus=opts.threads)
    actors = [actor.remote(init, opts.shared_cache) for _ in range(n)]
    free, pending = list(actors), {}
    try:
        while batches or pending:
            while free and batches:
                a = free.pop()
                batch = batches.pop(0)
                pending[a.run.remote(batch)] = (a, batch)
            if not pending:  # every actor is gone for good (restarts used up)
                for s, _, _ in (t for b in batches for t in b):
                    yield s.key, "no cache worker left"
                return
            [ref], _ = ray.wait(list(pending), num_returns=1)
            a, batch = pending.pop(ref)
            try:
                outs = ray.get(ref)
            except ray.exceptions.RayError as exc:  # not stored as .failed: the next run tries them again
                if not isinstance(exc, ray.exceptions.RayActorError):
                    free.append(a)
                for s, _, _ in batch:
                    yield s.key, f"worker failed: {why(exc)}"
                continue
            free.append(a)
            for (s, out, _), res in zip(batch, outs):
                yield s.key, res if opts.shared_cache else cache.store(Path(out), s, res)
    finally:
        for a in actors:
            with contextlib.suppress(Exception):  # a dead actor has nothing left to close
                ray.get(a.close.remote(), timeout=30)
            ray.kill(a)


def _fold_task(fold_fn: Callable, cfg, k: int, sp, data, fingerprint: dict) -> dict:
    import ray
    import torch

    torch.set_num_threads(cfg.threads)
    device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
    return fold_fn(cfg, k, sp, data, fingerprint, device=device)


def run_folds(cfg, jobs: list, data, fingerprint: dict, fold_fn: Callable,
              opts: RayOptions) -> Iterator[tuple[int, dict]]:
    """(fold index, result of ``fold_fn``) as folds finish, one task per fold; a failed fold is retried
    ``opts.retries`` times and reported by its test subject; MexError at the end when any fold never ran."""
    ray = ray_module()
    res = connect(opts.address)
    gpus = opts.fold_gpus if opts.fold_gpus is not None else (1 if res.get("GPU", 0) >= 1 else 0)
    task = ray.remote(_fold_task).options(num_cpus=opts.threads, num_gpus=gpus, max_retries=0)
    data_ref = ray.put(data)  # once into the object store (samples, X, y), read by every fold

    def submit(k, sp, attempt):
        pending[task.remote(fold_fn, cfg, k, sp, data_ref, fingerprint)] = (k, sp, attempt)

    pending: dict = {}
    for k, sp in jobs:
        submit(k, sp, 1)
    failed = {}
    while pending:
        [ref], _ = ray.wait(list(pending), num_returns=1)
        k, sp, attempt = pending.pop(ref)
        try:
            out = ray.get(ref)
        except ray.exceptions.RayError as exc:
            reason = why(exc)
            if attempt <= opts.retries:
                print(f"fold {sp.test_subject}: attempt {attempt} failed ({reason}); retrying", flush=True)
                submit(k, sp, attempt + 1)
            else:
                print(f"fold {sp.test_subject}: failed after {attempt} attempt(s) ({reason})", flush=True)
                failed[sp.test_subject] = reason
            continue
        yield k, out
    if failed:
        raise MexError(f"fold(s) {', '.join(sorted(failed))} failed after {opts.retries + 1} attempt(s): "
                       + "; ".join(f"{s}: {w}" for s, w in sorted(failed.items()))
                       + "; finished folds are kept and reused on the next run")
