"""Magnify + classify one spotted event, in a worker thread: (onset crop, apex crop) -> Prediction.

The engines are the only contract with training: input size, amplification range and labels come from
the artifacts' metadata, and the preprocessing is mecore.preprocess's, the same code training uses.
The classifier reads MagNet's motion representation through the ``motion`` artifact (the magnifier's
weights without its decoder, ~8x cheaper), so a prediction waits only for that; the magnified face
(the full magnifier at the user's factor) follows as an inset, off the latency path.
Pending events wait in a small drop-oldest queue: when events come faster than the models run, the
freshest are classified and the skipped ones come back labelled ``UNCLASSIFIED``.
A spotter that knows an event a few frames before it emits it (``guess``) has it classified then
(``speculate``); the event, when it comes with the same onset and apex, claims that work, so its
prediction does not wait for the motion pass. A guess no event claims is dropped unseen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecore import preprocess
from mecore.errors import MexError
from mecore.face.align import AlignedFace
from mecore.face.register import Registration
from mecore.types import Prediction, SpotEvent

log = logging.getLogger("stream")
UNCLASSIFIED = "unclassified"
GUESSES = 8  # classified guesses kept for their events to claim


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _key(ev: SpotEvent) -> tuple[int, int, int]:
    return ev.face_id, ev.onset_frame, ev.apex_frame  # what the classifier reads


@dataclass
class _Job:
    event: SpotEvent
    onset: AlignedFace
    apex: AlignedFace
    amplification: float
    read_t: float | None = None  # when the event's apex frame was read; None: a guess no event has claimed yet
    result: tuple[str, dict[str, float]] | None = None  # (label, probabilities) once classified


class Predictor:
    def __init__(self, engines_dir: str | Path | None = None, backend: str = "auto",
                 amplification: float | None = None, max_pending: int = 4, threads: int = 0,
                 insets: bool = True):
        import engines

        opts: dict = {"threads": threads} if threads else {}
        if engines_dir is not None:
            opts["engines_dir"] = Path(engines_dir)
        self.magnifier = engines.load("magnifier", backend, **opts)
        self.classifier = engines.load("classifier", backend, **opts)
        self.motion = self._motion(engines, backend, opts)
        mm, cm = self.magnifier.meta, self.classifier.meta
        if mm.get("model") != "magnifier" or cm.get("model") != "classifier" or \
                self.motion.meta.get("model") not in ("motion", "magnifier"):
            raise MexError(f"{self.magnifier.path}, {self.motion.path}, {self.classifier.path}: expected a magnifier, "
                           f"its motion part and a classifier, got {mm.get('model')!r}, "
                           f"{self.motion.meta.get('model')!r} and {cm.get('model')!r}")
        made_for = cm.get("features_version")
        if made_for is not None and int(made_for) != preprocess.FEATURES_VERSION:
            raise MexError(f"{self.classifier.path}: made for features version {made_for}, this code makes "
                           f"version {preprocess.FEATURES_VERSION}; retrain it with python -m train.loso")
        self.labels: list[str] = [str(x) for x in cm["labels"]]
        # The classifier was trained on features at its own amplification; the user's factor only
        # changes the magnified face shown, so serving cannot drift from training.
        # (``amplification`` in classifiers exported before it was named apart from the magnifier's range)
        self.classifier_amplification = float(cm.get("feature_amplification", cm.get("amplification", 2.0)))
        amp = mm["amplification"]
        self.amp_range = (float(amp.get("min", 1.0)), float(amp.get("max", 50.0)))
        self.amplification = self._clamp(amplification if amplification is not None else amp.get("default", 10.0))
        self.crop_size = preprocess.MAGNET_SIZE  # what motion_features expects
        self.backend = self.magnifier.name if self.magnifier.name == self.classifier.name else \
            f"{self.magnifier.name}+{self.classifier.name}"
        self.timings: dict[str, float] = {}
        self.insets = insets  # magnify each classified event's face for display (off: only motion + classify run)
        self.skipped = 0
        self.failed = 0
        self._jobs: deque[_Job] = deque()
        self._running: _Job | None = None
        self._guesses: OrderedDict[tuple[int, int, int], _Job] = OrderedDict()  # classified, not yet claimed
        self._max_pending = max_pending
        self._done: list[Prediction] = []
        self._insets: list[tuple[SpotEvent, np.ndarray]] = []
        self._busy = False
        self._registration = Registration()  # the worker's alone
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="mex-predictor", daemon=True)
        self._thread.start()

    @property
    def engines(self) -> list:
        return [self.magnifier, self.motion, self.classifier]

    def _motion(self, engines, backend: str, opts: dict):
        """The ``motion`` artifact; without one (an older engines folder) the magnifier gives the same features."""
        from engines.artifacts import NotListed

        try:
            return engines.load("motion", backend, **opts)
        except NotListed:
            log.warning("%s: no motion artifact beside it; classifying through the whole magnifier (slower). "
                        "Make one with: python -m train.magnet motion --checkpoint %s",
                        self.magnifier.path.parent, self.magnifier.path.with_suffix(".pt"))
            return self.magnifier

    def _clamp(self, value: float) -> float:
        lo, hi = self.amp_range
        return float(min(max(float(value), lo), hi))

    def set_amplification(self, value: float) -> float:
        self.amplification = self._clamp(value)
        return self.amplification

    # -- synchronous ------------------------------------------------------------------------------
    def classify(self, onset: AlignedFace, apex: AlignedFace) -> tuple[str, dict[str, float]]:
        """label and probabilities, from the motion representation at the classifier's own amplification."""
        t0 = time.perf_counter()
        feats = preprocess.motion_features(self.motion, onset.image, apex.image, apex.landmarks,
                                           [self.classifier_amplification])[0]
        t1 = time.perf_counter()
        logits = self.classifier(patches=feats.patches[None])["logits"][0]
        self.timings = {"motion": (t1 - t0) * 1e3, "classify": (time.perf_counter() - t1) * 1e3}
        if logits.shape[-1] != len(self.labels):
            raise MexError(f"{self.classifier.path}: {logits.shape[-1]} logits but {len(self.labels)} labels")
        probs = _softmax(logits.astype(np.float64))
        label = self.labels[int(np.argmax(probs))]
        return label, {k: float(v) for k, v in zip(self.labels, probs)}

    def magnify(self, onset: AlignedFace, apex: AlignedFace, amplification: float | None = None) -> np.ndarray:
        """The magnified apex (RGB uint8) at ``amplification`` (default: the current factor), for display."""
        amp = self._clamp(self.amplification if amplification is None else amplification)
        t0 = time.perf_counter()
        face = preprocess.magnify(self.magnifier, onset.image, apex.image, amp)
        self.timings = {**self.timings, "magnify": (time.perf_counter() - t0) * 1e3}
        return face

    # -- the worker -------------------------------------------------------------------------------
    def submit(self, event: SpotEvent, onset: AlignedFace, apex: AlignedFace, apex_read_t: float) -> None:
        """Queue one event: its onset and apex crops as aligned (the worker registers the apex on the onset,
        as training compares them: mecore.face.register); ``apex_read_t`` (time.perf_counter) is when its
        apex frame was read."""
        with self._cv:
            job = self._claim(_key(event))
            if job is None:
                self._queue(_Job(event, onset, apex, self.amplification, apex_read_t))
            else:
                job.event, job.read_t = event, apex_read_t
                if job.result is not None:  # classified already: out now; its magnified face follows
                    self._done.append(self._prediction(job))
                    if self.insets:
                        self._queue(job)
            self._cv.notify_all()

    def speculate(self, event: SpotEvent, onset: AlignedFace, apex: AlignedFace) -> None:
        """Classify an event the spotter expects to emit soon; ``submit`` of that event claims the work."""
        with self._cv:
            key = _key(event)
            if key in self._guesses or any(_key(j.event) == key for j in self._pending()):
                return
            self._queue(_Job(event, onset, apex, self.amplification))
            self._cv.notify_all()

    def _claim(self, key: tuple[int, int, int]) -> _Job | None:
        """The unclaimed guess of this key: queued, running or classified (caller holds the lock)."""
        if key in self._guesses:
            return self._guesses.pop(key)
        for job in self._pending():
            if job.read_t is None and _key(job.event) == key:
                return job
        return None

    def _pending(self) -> list[_Job]:
        return [*self._jobs, *([self._running] if self._running is not None else [])]

    def _queue(self, job: _Job) -> None:
        self._jobs.append(job)
        while len(self._jobs) > self._max_pending:
            old = self._jobs.popleft()
            if old.read_t is not None and old.result is None:  # an event's: unclassified (a guess goes unseen)
                self.skipped += 1
                self._done.append(self._unclassified(old.event, old.read_t))

    def collect(self) -> tuple[list[Prediction], list[tuple[SpotEvent, np.ndarray]]]:
        """What finished since the last call: predictions, and faces magnified at the user's factor
        (event, RGB uint8), which follow their predictions."""
        with self._cv:
            done, self._done = self._done, []
            insets, self._insets = self._insets, []
        return done, insets

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every queued event is done (or ``timeout`` s); True when none is left."""
        end = time.monotonic() + timeout
        with self._cv:
            while (self._jobs or self._busy) and time.monotonic() < end:
                self._cv.wait(timeout=max(0.0, min(0.1, end - time.monotonic())))
            return not (self._jobs or self._busy)

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=10)
        for eng in {id(e): e for e in self.engines}.values():
            eng.close()

    def _unclassified(self, ev: SpotEvent, apex_read_t: float) -> Prediction:
        return Prediction(ev, UNCLASSIFIED, {}, self.backend, (time.perf_counter() - apex_read_t) * 1e3)

    def _prediction(self, job: _Job) -> Prediction:
        label, probs = job.result
        return Prediction(job.event, label, probs, self.backend, (time.perf_counter() - job.read_t) * 1e3)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                job = self._running = self._jobs.popleft()
                self._busy = True
            fresh = job.result is None  # else a claimed guess, predicted already: only its inset is left
            if fresh:
                try:
                    job.apex = self._registration.register(job.onset, job.apex)  # the inset shows it too
                    job.result = self.classify(job.onset, job.apex)
                except Exception as exc:  # a model failing at run time must not stop the stream
                    self.failed += 1
                    if self.failed <= 3:
                        log.error("event at frame %d not classified: %s", job.event.apex_frame, exc)
            with self._cv:
                self._running = None
                # The prediction goes out after the classifier's pass; the face magnified at the user's
                # factor (the whole magnifier, display only) follows as an inset, off the latency path.
                if job.read_t is None:  # a guess nobody has claimed yet: kept for its event
                    if job.result is not None:
                        self._guesses[_key(job.event)] = job
                        while len(self._guesses) > GUESSES:
                            self._guesses.popitem(last=False)
                    job = None
                elif fresh:
                    self._done.append(self._prediction(job) if job.result is not None
                                      else self._unclassified(job.event, job.read_t))
                self._cv.notify_all()
            if job is not None and job.result is not None and self.insets:
                try:
                    inset = self.magnify(job.onset, job.apex, job.amplification)
                    with self._cv:
                        self._insets.append((job.event, inset))
                except Exception as exc:  # noqa: BLE001 - display only
                    log.warning("event at frame %d: magnified face not made: %s", job.event.apex_frame, exc)
            with self._cv:
                self._busy = False
                self._cv.notify_all()
