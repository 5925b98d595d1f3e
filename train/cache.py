"""The preprocessing cache: each sample's face alignment and magnification, computed once.

Per sample: detect the face in the onset and apex frames (MediaPipe, IMAGE mode), align each to
the canonical 256x256 crop (the apex re-cut in the onset's frame and the face-wide motion between them
removed: ``mecore.face.register``),
and run the magnifier once per amplification factor (all factors in one batched call, through
``mecore.preprocess.motion_features``, the function the streaming analyser uses too). The classifier
reads only the motion part of the magnifier's shape representation, so when the engines folder holds
the magnifier's ``motion`` artifact (its weights without the decoder, checked against the magnifier's
own weights) the cache runs that, as serving does: the same features (to 5e-7) at a quarter of the
cost. Stored per sample as
``<cache>/<magnifier sha[:16]>[+motion]-f<FEATURES_VERSION>/<sample key>-<path hash>.npz``:

    factors (F,)            amplification factors, ascending
    patches (F, 30, C, 7, 7) float32, the classifier's input (C: mecore.preprocess.IN_CHANNELS)
    shape_maps (F, 128, 128) float16
    landmarks (2, 478, 2)   onset and apex landmarks in crop pixels
    source                  onset/apex paths + sizes + mtimes (a changed frame invalidates the entry)

A sample without a detectable face is stored as a ``.failed`` text file with the reason, so it is
reported (and skipped) again without re-running the detector. Epochs read the arrays, never the
magnifier.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mecore.atomic import atomic_path, write_text
from mecore.errors import MexError
from mecore.provenance import sha256_file
from train.datasets.base import Sample

if TYPE_CHECKING:
    from train.cluster import RayOptions

# FGRMER's augmentation: amplification factors 1.2 ... 3.0 in steps of 0.2 for training; 2.0 to test
# (and to serve: stream/ magnifies at the same 2.0).
TRAIN_FACTORS: tuple[float, ...] = tuple(round(1.2 + 0.2 * i, 1) for i in range(10))
TEST_FACTOR = 2.0
CROP = 256


@dataclass(frozen=True)
class Entry:
    factors: np.ndarray
    patches: np.ndarray

    def at(self, factor: float) -> np.ndarray:
        """(30, MAP_GROUPS, 7, 7) patches at ``factor``."""
        i = np.flatnonzero(np.isclose(self.factors, factor))
        if not i.size:
            raise KeyError(f"factor {factor} not cached (have {self.factors.tolist()})")
        return self.patches[i[0]]


def magnifier_id(path: Path) -> str:
    return sha256_file(path)[:16]


def feature_engine(magnifier: str | Path, engines_dir: str | Path | None = None):
    """(the magnifier's artifact, the artifact the cache runs, the cache's id of the features): the
    ``motion`` artifact beside the magnifier when it was made from the magnifier's weights, else the
    magnifier itself (the same quantity from its ``shape`` output, at the price of a full decode)."""
    import engines

    art = engines.resolve(str(magnifier), "onnx", engines_dir)
    mid = magnifier_id(art.path)  # hashes the file: once
    motion = _motion_of(str(art.path), mid, str(art.checkpoint) if art.checkpoint else "")
    if motion is None:
        return art, art, mid
    return art, engines.resolve(motion, "onnx"), f"{mid}+motion"


@functools.cache
def _motion_of(magnifier_path: str, magnifier_sha: str, checkpoint: str) -> str | None:
    """The path of the motion artifact beside a magnifier whose weights it holds, or None (once per
    magnifier file and content: it loads the checkpoint)."""
    import engines
    from engines.artifacts import NotListed

    try:
        art = engines.resolve(magnifier_path)
        motion = engines.resolve("motion", "onnx", Path(magnifier_path).parent)
    except NotListed:
        return None
    src = motion.meta.get("derived_from") or {}
    if art.meta.get("model") != "magnifier" or src.get("model") != "magnifier" or not checkpoint:
        return None
    from mecore.nets.magnet import MagNetMotion
    from train.magnet.export import weights_sha256
    from train.magnet.importer import load_magnet_and_checkpoint

    model, raw = load_magnet_and_checkpoint(checkpoint)
    mine = weights_sha256(MagNetMotion.from_magnet(model, raw.get("kwargs", {})))
    return str(motion.path) if src.get("weights_sha256") == mine else None


def _source(sample: Sample) -> str:
    parts = []
    for p in (sample.onset_path, sample.apex_path):
        st = Path(p).stat()
        parts.append(f"{p}:{st.st_size}:{int(st.st_mtime)}")
    return "|".join(parts)


def entry_path(cache_dir: Path, sample: Sample) -> Path:
    """Keyed by the sample and where its frames live: two datasets may both have sub01/EP01_01."""
    where = hashlib.sha256(str(Path(sample.apex_path).resolve()).encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{sample.key}-{where}.npz"


def read_entry(path: Path, sample: Sample, factors: Sequence[float]) -> Entry | None:
    """The cached entry when it exists, covers ``factors`` and was made from the same frame files."""
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            if str(z["source"]) != _source(sample):
                return None
            have = z["factors"]
            if not all(np.isclose(have, f).any() for f in factors):
                return None
            return Entry(factors=have.copy(), patches=z["patches"].copy())
    except (OSError, ValueError, KeyError):
        return None  # a damaged entry is recomputed


# --- worker ----------------------------------------------------------------------------------------

class CacheWorker:
    """One preprocessing worker's models: the magnifier engine, a face tracker (IMAGE mode) and the aligner.

    A context manager: the models load on entry and the tracker is closed on exit (MediaPipe's
    landmarker must be closed explicitly). The process pool, the one-process path and the Ray actors
    (train/cluster.py) all hold one each, so the models load once per worker.
    """

    def __init__(self, magnifier: str, engines_dir: str | None = None, threads: int = 1,
                 face_model: str | None = None):
        self.args = (magnifier, engines_dir, threads, face_model)
        self.engine = self.tracker = self.aligner = self.registration = None

    def __enter__(self) -> CacheWorker:
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's per-process start-up chatter
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import cv2

        import engines
        from mecore.face.align import Aligner
        from mecore.face.register import Registration
        from mecore.face.tracker import FaceTracker

        magnifier, engines_dir, threads, face_model = self.args
        cv2.setNumThreads(threads)  # a Ray actor or pool process has `threads` CPUs: no oversubscription
        self.engine = engines.load(magnifier, backend="onnxruntime", engines_dir=engines_dir, threads=threads)
        self.tracker = FaceTracker(model_path=face_model, mode="image", max_faces=1).__enter__()
        self.aligner = Aligner(CROP)
        self.registration = Registration()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.__exit__(None, None, None)
        self.engine = self.tracker = self.aligner = self.registration = None

    def _align(self, path: Path):
        rgb = _read_rgb(path)
        faces = self.tracker.detect(rgb)
        if not faces:
            raise MexError(f"{path}: no face found")
        face = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
        return self.aligner.align(rgb, face.landmarks)

    def arrays(self, sample: Sample, factors: Sequence[float]) -> dict[str, np.ndarray] | str:
        """One sample's entry arrays (what ``store`` writes), or the reason it has none."""
        from mecore.preprocess import motion_features

        try:
            onset = self._align(sample.onset_path)
            apex = self.registration.register(onset, self._align(sample.apex_path))  # as the stream does
            feats = motion_features(self.engine, onset.image, apex.image, apex.landmarks, sorted(factors))
        except MexError as exc:
            return str(exc)
        return {
            "factors": np.array([f.amplification for f in feats], np.float32),
            "patches": np.stack([f.patches for f in feats]).astype(np.float32),
            "shape_maps": np.stack([f.shape_map for f in feats]).astype(np.float16),
            "landmarks": np.stack([onset.landmarks, apex.landmarks]).astype(np.float32),
        }

    def compute(self, sample: Sample, out: Path, factors: Sequence[float]) -> str | None:
        """Compute and store one sample's entry; returns the failure reason or None."""
        return store(Path(out), sample, self.arrays(sample, factors))


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MexError(f"{path}: cannot read image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def store(out: Path, sample: Sample, arrays: dict[str, np.ndarray] | str) -> str | None:
    """Write an entry (atomically), or its ``.failed`` file when ``arrays`` is the failure reason."""
    if isinstance(arrays, str):
        write_text(out.with_suffix(".failed"), f"{_source(sample)}\n{arrays}\n")
        return arrays
    with atomic_path(out, suffix=".npz") as tmp:
        np.savez(tmp, **arrays, source=np.array(_source(sample)))
    return None


# A pool process's worker: mp.Pool has no per-process object but its initializer, so the worker lives in
# the process's module state and is closed by a multiprocessing finalizer when the process exits.
_POOL_WORKER: CacheWorker | None = None


def _init_pool_worker(*args) -> None:
    from multiprocessing import util

    global _POOL_WORKER
    _POOL_WORKER = CacheWorker(*args).__enter__()
    util.Finalize(_POOL_WORKER, _POOL_WORKER.close, exitpriority=10)


def _pool_task(args: tuple[Sample, str, tuple[float, ...]]) -> tuple[str, str | None]:
    sample, out, factors = args
    return sample.key, _POOL_WORKER.compute(sample, Path(out), factors)


def _run_local(todo: list, init: tuple, workers: int) -> Iterator[tuple[str, str | None]]:
    """(sample key, failure or None) as samples finish: in this process for one worker, else a spawn pool."""
    if workers == 1:
        with CacheWorker(*init) as worker:
            for sample, out, factors in todo:
                yield sample.key, worker.compute(sample, Path(out), factors)
        return
    pool = mp.get_context("spawn").Pool(workers, initializer=_init_pool_worker, initargs=init)
    finished = False
    try:
        yield from pool.imap_unordered(_pool_task, todo)
        finished = True
    finally:
        # close lets the workers exit normally (their finalizers close the trackers); stop them on an error
        pool.close() if finished else pool.terminate()
        pool.join()


def _failed(path: Path, sample: Sample) -> str | None:
    fail = path.with_suffix(".failed")
    if fail.exists():
        source, _, reason = fail.read_text().partition("\n")
        if source == _source(sample):
            return reason.strip()
    return None


def build(samples: Sequence[Sample], magnifier: str | Path, cache_root: str | Path,
          factors: Sequence[float] = TRAIN_FACTORS, workers: int = 2, engines_dir: str | Path | None = None,
          face_model: str | Path | None = None, progress: bool = True,
          ray: RayOptions | None = None) -> tuple[dict[str, Entry], dict[str, str]]:
    """Entries for ``samples`` (computing the missing ones in ``workers`` processes, or as Ray tasks on
    the cluster ``ray`` connects to) and the failures.

    Returns ({sample key: Entry}, {sample key: reason it has no entry}).
    """
    from mecore.preprocess import FEATURES_VERSION

    art, engine, features = feature_engine(magnifier, engines_dir)
    cache_dir = Path(cache_root) / f"{features}-f{FEATURES_VERSION}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    factors = tuple(sorted({float(f) for f in factors}))
    write_text(cache_dir / "magnifier.json", json.dumps(
        {"path": str(art.path), "version": art.meta.get("version"), "factors": factors,
         "computed_with": str(engine.path)}, indent=1) + "\n")
    todo, failures = [], {}
    for s in samples:
        p = entry_path(cache_dir, s)
        if read_entry(p, s, factors) is None:
            reason = _failed(p, s)
            if reason is None:
                todo.append((s, str(p), factors))
            else:
                failures[s.key] = reason
    if todo:
        from tqdm import tqdm

        model = (str(engine.path), str(engine.path.parent))
        face = str(face_model) if face_model else None
        if ray is not None:
            from train import cluster

            desc = "cache (Ray)"
            results = cluster.cache_results(todo, (*model, ray.threads, face), ray)
        else:
            workers = max(1, min(int(workers), len(todo)))
            threads = max(1, (os.cpu_count() or 1) // workers)
            desc = f"cache ({workers} worker{'s' * (workers > 1)})"
            results = _run_local(todo, (*model, threads, face), workers)
        bar = tqdm(total=len(todo), desc=desc, unit="sample", disable=not progress)
        with closing(results):
            for key, reason in results:
                if reason:
                    failures[key] = reason
                bar.update()
        bar.close()
    entries = {}
    for s in samples:
        if s.key in failures:
            continue
        e = read_entry(entry_path(cache_dir, s), s, factors)
        if e is None:
            failures[s.key] = "cache entry missing after build"
        else:
            entries[s.key] = e
    return entries, failures
