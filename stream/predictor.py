"""Magnify + classify one spotted event, in a worker thread: (onset crop, apex crop) -> Prediction.

The engines are the only contract with training: input size, amplification range and labels come from
the artifacts' metadata, and the preprocessing is mecore.preprocess's, the same code training uses.
The classifier reads MagNet's motion representation through the ``motion`` artifact (the magnifier's
weights without its decoder, ~8x cheaper), so a prediction waits only for that; the magnified face
(the full magnifier at the user's factor) follows as an inset, off the latency path.
Pending events wait in a small drop-oldest queue: when events come faster than the models run, the
freshest are classified and the skipped ones come back labelled ``UNCLASSIFIED``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from mecore import preprocess
from mecore.errors import MexError
from mecore.face.align import AlignedFace
from mecore.types import Prediction, SpotEvent

log = logging.getLogger("stream")
UNCLASSIFIED = "unclassified"


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


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
        self._jobs: deque = deque()
        self._max_pending = max_pending
        self._done: list[Prediction] = []
        self._insets: list[tuple[SpotEvent, np.ndarray]] = []
        self._busy = False
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
        """Queue one event; ``apex_read_t`` (time.perf_counter) is when its apex frame was read."""
        with self._cv:
            self._jobs.append((event, onset, apex, apex_read_t, self.amplification))
            while len(self._jobs) > self._max_pending:
                ev, *_rest, t = self._jobs.popleft()
                self.skipped += 1
                self._done.append(self._unclassified(ev, t))
            self._cv.notify_all()

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

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                ev, onset, apex, t_read, amp = self._jobs.popleft()
                self._busy = True
            # The prediction goes out after the classifier's pass; the face magnified at the user's
            # factor (the whole magnifier, display only) follows as an inset, off the latency path.
            classified = False
            try:
                label, probs = self.classify(onset, apex)
                pred = Prediction(ev, label, probs, self.backend, (time.perf_counter() - t_read) * 1e3)
                classified = True
            except Exception as exc:  # a model failing at run time must not stop the stream
                self.failed += 1
                if self.failed <= 3:
                    log.error("event at frame %d not classified: %s", ev.apex_frame, exc)
                pred = self._unclassified(ev, t_read)
            with self._cv:
                self._done.append(pred)
                self._cv.notify_all()
            if classified and self.insets:
                try:
                    inset = self.magnify(onset, apex, amp)
                    with self._cv:
                        self._insets.append((ev, inset))
                except Exception as exc:  # noqa: BLE001 - display only
                    log.warning("event at frame %d: magnified face not made: %s", ev.apex_frame, exc)
            with self._cv:
                self._busy = False
                self._cv.notify_all()
