"""Joining a Ray cluster, for the front ends that can run on one (train.loso --ray, stream.batch --ray).

Ray is imported here only when a run asks for it, so nothing else needs it installed.

A new local Ray takes seconds to start (2.4-3.4 s on a 2-core machine: the GCS, the raylet and its
agents, then the driver's connection; docs/scale.md), most of it waiting on those processes. ``start``
begins it on a thread of its own while the run does its own preparation (imports, reading the dataset,
checking the cache), and ``connect`` waits only for what is left.
"""

from __future__ import annotations

import logging
import threading
import time

from mecore.errors import MexError

_lock = threading.Lock()
_pending: dict = {}  # the background start: {"done": Event, "error": exception or None}
waited_s = 0.0  # how long connect() has waited for a background start, in all (bench.scale prints it)


def ray_module():
    try:
        import ray
    except ImportError:
        raise MexError("--ray needs Ray: pip install 'microexpr[ray]'") from None
    return ray


class _NotMainThread(logging.Filter):
    """Ray warns that a thread other than the main one cannot set its SIGTERM handler; for a background
    start that is expected (the main thread's own handlers stay as they are)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not the main thread" not in record.getMessage()


def _init(address: str, **kw) -> None:
    ray = ray_module()
    if address not in ("", "auto"):
        kw["address"] = address
    try:
        ray.init(**kw, include_dashboard=False, logging_level="WARNING")
    except ConnectionError as exc:
        raise MexError(f"Ray at {address}: {exc}") from None


def start(address: str = "auto", **init) -> None:
    """Begin joining the cluster at ``address`` in the background (once per process; ``init``: more
    ``ray.init`` arguments, e.g. ``num_cpus`` of a new local Ray); ``connect`` waits for it and raises
    its errors."""
    with _lock:
        if _pending or ray_module().is_initialized():
            return
        done = threading.Event()
        _pending.update(done=done, error=None)

    def run():
        try:
            _init(address, **init)
        except BaseException as exc:  # noqa: BLE001 - handed to connect(), which raises it in the caller
            _pending["error"] = exc
        finally:
            done.set()
        # A new local Ray's processes are started with the parent-death signal, which Linux sends when the
        # *thread* that started them ends: this one must outlive them (it is a daemon: it never blocks exit).
        threading.Event().wait()

    logging.getLogger("ray._private.worker").addFilter(_NotMainThread())
    threading.Thread(target=run, name="ray-start", daemon=True).start()


def connect(address: str = "auto") -> dict:
    """Join the cluster at ``address`` once per process (``auto``: this machine's cluster, started with
    ``ray start`` or named by RAY_ADDRESS, else a new local Ray), or wait for ``start``'s; its resources."""
    global waited_s
    ray = ray_module()
    if _pending:
        t0 = time.perf_counter()
        _pending["done"].wait()
        waited_s += time.perf_counter() - t0
        error = _pending["error"]
        _pending.clear()
        if error is not None:
            raise error
    if not ray.is_initialized():
        _init(address)
    return ray.cluster_resources()


def why(exc: BaseException) -> str:
    """A Ray error in one line: its type and the last line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"[:300]
