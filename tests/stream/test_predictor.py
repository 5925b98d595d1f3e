"""The predictor with the project's real engines: classification through the motion artifact, the
magnified face through the whole magnifier; an engines folder without a motion artifact still works."""

from __future__ import annotations

import logging

import av
import numpy as np
import pytest

from mecore import preprocess
from mecore.face.align import Aligner
from mecore.face.tracker import FaceTracker
from mecore.types import SpotEvent
from stream.predictor import Predictor, _softmax


@pytest.fixture(scope="module")
def onset_apex(face_video, face_model):
    """Aligned crops of two real frames 6 apart (a real, small head/face movement)."""
    with av.open(str(face_video)) as c:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(7), c.decode(video=0))]
    aligner = Aligner(preprocess.MAGNET_SIZE)
    with FaceTracker(str(face_model), mode="image", max_faces=1) as tracker:
        return [aligner.align(rgb, tracker.detect(rgb)[0].landmarks) for rgb in (frames[0], frames[6])]


def test_motion_artifact_classifies_as_the_whole_magnifier_would(onset_apex):
    onset, apex = onset_apex
    pred = Predictor(backend="onnxruntime-cpu", threads=1)
    try:
        assert pred.motion.meta["model"] == "motion" and pred.motion is not pred.magnifier
        label, probs = pred.classify(onset, apex)
        assert set(probs) == set(pred.labels) and label == max(probs, key=probs.get)
        assert {"motion", "classify"} <= set(pred.timings)
        # the same features through the whole magnifier: shape(alpha) - shape(1)
        ref = preprocess.motion_features(pred.magnifier, onset.image, apex.image, apex.landmarks,
                                         [pred.classifier_amplification])[0]
        ref_probs = _softmax(pred.classifier(patches=ref.patches[None])["logits"][0].astype(np.float64))
        np.testing.assert_allclose([probs[k] for k in pred.labels], ref_probs, atol=1e-4)
        face = pred.magnify(onset, apex, 10.0)
        assert face.shape == (256, 256, 3) and face.dtype == np.uint8 and "magnify" in pred.timings
        # amplification 1 reproduces the apex face (the magnifier's contract), 10 changes it
        still = pred.magnify(onset, apex, 1.0)
        assert np.abs(still.astype(int) - apex.image).mean() < np.abs(face.astype(int) - apex.image).mean()
    finally:
        pred.close()


def test_engines_without_a_motion_artifact_fall_back_to_the_magnifier(standin_engines, onset_apex, caplog):
    with caplog.at_level(logging.WARNING, logger="stream"):
        pred = Predictor(standin_engines, backend="onnxruntime-cpu", threads=1)
    try:
        assert pred.motion is pred.magnifier
        assert "no motion artifact" in caplog.text and "train.magnet motion" in caplog.text
        label, probs = pred.classify(*onset_apex)
        assert label in pred.labels and sum(probs.values()) == pytest.approx(1.0, abs=1e-6)
    finally:
        pred.close()


def test_a_classifier_made_for_other_features_is_refused(tmp_path):
    from mecore.errors import MexError
    from tests.stream.conftest import make_standin_engines

    folder = make_standin_engines(tmp_path / "old", features_version=preprocess.FEATURES_VERSION - 1)
    with pytest.raises(MexError, match=r"classifier\.onnx: made for features version .*retrain it"):
        Predictor(folder, backend="onnxruntime-cpu", threads=1)


def _event(i: int):
    from mecore.types import SpotEvent

    return SpotEvent(0, 10 * i, 10 * i + 3, 10 * i + 6, 2.0, 30.0)


def test_a_full_queue_drops_the_oldest_and_says_unclassified(standin_engines, onset_apex):
    """The worker is held on the first event; five more come into a queue of two: the three oldest
    waiting ones come back UNCLASSIFIED at once, the freshest two are classified when it is free."""
    import threading
    import time

    from stream.predictor import UNCLASSIFIED

    pred = Predictor(standin_engines, backend="onnxruntime-cpu", threads=1, max_pending=2)
    gate, real = threading.Event(), pred.classify
    pred.classify = lambda onset, apex: (gate.wait(10), real(onset, apex))[1]
    try:
        onset, apex = onset_apex
        t = time.perf_counter()
        pred.submit(_event(0), onset, apex, t)
        while not pred._busy:  # the worker took the first one
            time.sleep(0.01)
        for i in range(1, 6):
            pred.submit(_event(i), onset, apex, t)
        skipped, _ = pred.collect()
        assert [p.event for p in skipped] == [_event(1), _event(2), _event(3)] and pred.skipped == 3
        assert all(p.label == UNCLASSIFIED and p.probs == {} and p.latency_ms >= 0 for p in skipped)
        gate.set()
        assert pred.wait(30)
        done, insets = pred.collect()
        assert [p.event for p in done] == [_event(0), _event(4), _event(5)]
        assert all(p.label in pred.labels for p in done) and [ev for ev, _ in insets] == [p.event for p in done]
    finally:
        gate.set()
        pred.close()


def test_a_failing_model_gives_unclassified_and_no_inset(standin_engines, onset_apex, caplog):
    from stream.predictor import UNCLASSIFIED

    pred = Predictor(standin_engines, backend="onnxruntime-cpu", threads=1)

    def broken(onset, apex):
        raise RuntimeError("model exploded")

    pred.classify = broken
    try:
        with caplog.at_level(logging.ERROR, logger="stream"):
            pred.submit(_event(0), *onset_apex, 0.0)
            assert pred.wait(30)
        done, insets = pred.collect()
        assert [p.label for p in done] == [UNCLASSIFIED] and insets == [] and pred.failed == 1
        assert "model exploded" in caplog.text  # the stream goes on; the log says why
    finally:
        pred.close()


def test_without_insets_the_whole_magnifier_never_runs(standin_engines, onset_apex):
    """stream.batch without --video: events are classified as ever, no magnified face is made."""
    pred = Predictor(standin_engines, backend="onnxruntime-cpu", threads=1, insets=False)
    pred.magnify = lambda *a, **k: pytest.fail("magnified a face no one will see")
    try:
        pred.submit(_event(0), *onset_apex, 0.0)
        assert pred.wait(30)
        done, insets = pred.collect()
        assert [p.label in pred.labels for p in done] == [True] and insets == []
    finally:
        pred.close()


def test_a_guess_is_classified_before_its_event_and_claimed_by_it(standin_engines, onset_apex):
    """speculate() runs the models; the event with the same onset and apex then gets the same label and
    probabilities without a second pass; an event with another apex gets its own pass; an unclaimed guess
    gives no prediction."""
    pred = Predictor(standin_engines, backend="onnxruntime-cpu", threads=1)
    calls, real = [], pred.classify
    pred.classify = lambda onset, apex: (calls.append(1), real(onset, apex))[1]
    try:
        onset, apex = onset_apex
        pred.speculate(_event(0), onset, apex)
        pred.speculate(_event(0), onset, apex)  # the spotter's guess seen twice: one pass
        pred.speculate(_event(1), onset, apex)  # never claimed
        assert pred.wait(30) and len(calls) == 2 and pred.collect() == ([], [])
        pred.submit(_event(0), onset, apex, 0.0)
        assert pred.wait(30) and len(calls) == 2
        (claimed,), insets = pred.collect()
        other = SpotEvent(0, 0, 4, 6, 2.0, 30.0)  # _event(0)'s onset, another apex
        pred.submit(other, onset, apex, 0.0)
        assert pred.wait(30) and len(calls) == 3
        (fresh,), _ = pred.collect()
        assert claimed.event == _event(0) and [ev for ev, _ in insets] == [_event(0)]
        assert claimed.label == fresh.label and claimed.probs == pytest.approx(fresh.probs)
    finally:
        pred.close()


def test_an_event_claims_its_guess_while_the_models_still_run(standin_engines, onset_apex):
    import threading
    import time

    pred = Predictor(standin_engines, backend="onnxruntime-cpu", threads=1)
    gate, calls, real = threading.Event(), [], pred.classify
    pred.classify = lambda onset, apex: (calls.append(1), gate.wait(10), real(onset, apex))[2]
    try:
        onset, apex = onset_apex
        pred.speculate(_event(0), onset, apex)
        while not pred._busy:
            time.sleep(0.01)
        pred.submit(_event(0), onset, apex, time.perf_counter())
        gate.set()
        assert pred.wait(30)
        (p,), _ = pred.collect()
        assert p.event == _event(0) and p.label in pred.labels and len(calls) == 1
    finally:
        gate.set()
        pred.close()
