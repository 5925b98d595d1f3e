"""Joining a Ray cluster, for the front ends that can run on one (train.loso --ray, stream.batch --ray).

Ray is imported here only when a run asks for it, so nothing else needs it installed.
"""

from __future__ import annotations

from mecore.errors import MexError


def ray_module():
    try:
        import ray
    except ImportError:
        raise MexError("--ray needs Ray: pip install 'microexpr[ray]'") from None
    return ray


def connect(address: str = "auto") -> dict:
    """Join the cluster at ``address`` once per process (``auto``: this machine's cluster, started with
    ``ray start`` or named by RAY_ADDRESS, else a new local Ray); its resources."""
    ray = ray_module()
    if not ray.is_initialized():
        kw = {} if address in ("", "auto") else {"address": address}
        try:
            ray.init(**kw, include_dashboard=False, logging_level="WARNING")
        except ConnectionError as exc:
            raise MexError(f"Ray at {address}: {exc}") from None
    return ray.cluster_resources()


def why(exc: BaseException) -> str:
    """A Ray error in one line: its type and the last line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"[:300]
