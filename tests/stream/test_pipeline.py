"""The Analyzer on real frames: no face, two faces, events -> predictions through real (stand-in) engines."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mecore.types import Frame
from stream.config import StreamConfig
from stream.pipeline import Analyzer
from tests.stream.conftest import LABELS


def _frames(path, n=None):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if n is not None and i >= n:
                return
            yield Frame(f.to_ndarray(format="rgb24"), i, i / 30.0)


def test_frames_without_a_face(face_model):
    with Analyzer(StreamConfig(classify=False)) as an:
        for i in range(20):
            img = np.full((240, 320, 3), 90 + i, np.uint8)
            r = an.process(Frame(img, i, i / 30))
            assert r.faces == [] and r.events == [] and r.signals == {}
            assert r.image.shape == img.shape and r.image is not img  # the overlay draws on a copy
        last = an.finish()
        assert last.final and last.frame is None and last.events == [] and last.predictions == []


def test_two_faces_get_two_tracks(face_video):
    frames = list(_frames(face_video, 12))
    cfg = StreamConfig(classify=False, max_faces=2, overlay=False)
    with Analyzer(cfg) as an:
        ids = []
        for f in frames:
            half = cv2.resize(f.image, (f.image.shape[1] // 2, f.image.shape[0] // 2), interpolation=cv2.INTER_AREA)
            two = np.concatenate([half, np.ascontiguousarray(half[:, ::-1])], axis=1)
            r = an.process(Frame(two, f.index, f.timestamp_s))
            ids.append(sorted(t.track_id for t in r.faces))
        assert ids[-1] == [0, 1] and all(i == [0, 1] for i in ids[2:])  # stable ids
        assert sorted(an._faces) == [0, 1]  # one spotter per face


def test_events_get_predictions_from_the_engines(demo_clip, standin_engines):
    with Analyzer(StreamConfig(overlay=True), engines_dir=standin_engines) as an:
        assert an.labels == LABELS and an.backend == "onnxruntime-cpu"
        assert an.amplification == 8.0 and an.set_amplification(100) == 20.0 and an.set_amplification(0.1) == 1.0
        events, preds = [], []
        for f in _frames(demo_clip, 170):
            r = an.process(f)
            events += r.events
            preds += r.predictions
            assert set(r.timings) >= {"landmarks", "align", "spot", "overlay"}
        last = an.finish(timeout=30)
        preds += last.predictions
        events += last.events
    assert events, "no event spotted in the first 170 frames of the demo"
    # the face magnified at the user's factor (display pass, after the prediction) for the overlay inset
    assert last.insets and all(v.shape == (256, 256, 3) for v in last.insets.values())
    assert last.amplification == 1.0 and last.backend == "onnxruntime-cpu"
    assert len(preds) == len(events) == len(an.events)
    for p in preds:
        assert p.label in LABELS and sum(p.probs.values()) == pytest.approx(1.0, abs=1e-4)
        assert p.backend == "onnxruntime-cpu" and p.latency_ms > 0


def test_runtime_settings_are_validated(standin_engines):
    with Analyzer(StreamConfig(), engines_dir=standin_engines) as an:
        an.set_threshold(p=0.3, noise_factor=3.0)
        assert an.config.threshold_p == 0.3 and an.config.noise_factor == 3.0
        with pytest.raises(ValueError, match="threshold_p"):
            an.set_threshold(p=2.0)
        with pytest.raises(ValueError, match="new Analyzer"):
            an.update_config(fps=60)


def test_align_size_must_be_the_engines_input_when_classifying(standin_engines, face_model):
    from mecore.errors import MexError

    with pytest.raises(MexError, match="align_size 128: the engines take 256x256"):
        Analyzer(StreamConfig(align_size=128, spot_size=128), engines_dir=standin_engines)
    with Analyzer(StreamConfig(align_size=128, spot_size=128, classify=False)) as an:
        assert an.crop_size == 128  # spotting only: the size asked for is the size used


def test_the_learned_spotters_events_are_classified_ahead_of_their_emission(demo_clip):
    """--spotter learned emits an event some frames after its offset; the stream classifies the spotter's
    guess of it meanwhile, and the event claims that pass: one motion pass per event, none repeated."""
    with Analyzer(StreamConfig(spotter="learned", overlay=False)) as an:
        # the frame each job started at (its first step registers the apex), and the motion passes run
        starts, passes, now = [], [], [0]
        reg, real = an.predictor._registration.register, an.predictor.classify
        an.predictor._registration.register = lambda onset, apex: (starts.append(now[0]), reg(onset, apex))[1]
        an.predictor.classify = lambda onset, apex: (passes.append(1), real(onset, apex))[1]
        guessed, emitted, preds, guesses, events = {}, {}, [], [], []
        for f in _frames(demo_clip, 170):
            now[0] = f.index
            r = an.process(f)
            for fid, face in an._faces.items():
                if face.spotter.guess is not None:
                    g = face.spotter.guess
                    guessed.setdefault((fid, g.onset_frame, g.apex_frame), f.index)
                    guesses.append(g)
            emitted.update({(e.face_id, e.onset_frame, e.apex_frame): f.index for e in r.events})
            events += r.events
            preds += r.predictions
        preds += an.finish(timeout=30).predictions
    assert len(emitted) >= 2 and len(preds) == len(emitted)
    assert all(key in guessed and guessed[key] < at for key, at in emitted.items())
    # the guessed event is the one emitted, but for its offset: guessed once the face went back from its apex
    def what(e):
        return e.face_id, e.onset_frame, e.apex_frame, e.kind, e.regions, e.aus
    assert [what(e) for e in events] == [what(g) for g in guesses]
    assert len(passes) == len(starts) == len(guessed) == len(emitted)
    assert all(started < at for started, at in zip(sorted(starts), sorted(emitted.values())))
