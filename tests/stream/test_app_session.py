"""A demo session's run with the real Analyzer: the project's engines/ (real magnifier, motion and
classifier through ONNX Runtime) and real MediaPipe on the bundled demo clip (a real face with
injected micro-expressions). The handlers and the page are tested in test_app.py / test_app_browser.py.
"""

from __future__ import annotations

import av
import numpy as np

from mecore.types import Frame, Prediction, SpotEvent
from stream.app import App
from stream.app_session import PageSettings
from stream.config import StreamConfig


def _frames(path, n):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= n:
                return
            yield Frame(f.to_ndarray(format="rgb24"), i, i / 30.0, "demo")


def test_the_inset_is_the_face_magnified_at_the_slider_factor(demo_clip):
    app = App()  # engines_dir None: the trained artifacts in engines/
    try:
        session = app.sessions.get("inset")
        run = session.run("url", 30.0, PageSettings(20.0, 0.4, "auto"))
        an = run.analyzer
        assert an.predictor is not None and run.note == "", run.note  # the real engines loaded
        assert an.amplification == 20.0
        made: list[tuple[float, np.ndarray]] = []  # every face the real magnifier made, with its factor
        magnify = an.predictor.magnify

        def spy(onset, apex, amplification=None):
            image = magnify(onset, apex, amplification)
            made.append((amplification, image))
            return image

        an.predictor.magnify = spy
        shown: list[tuple[float, np.ndarray]] = []  # (slider, inset sent to the page)
        slider, faces = 20.0, []
        for frame in _frames(demo_clip, 200):
            run = session.run("url", 30.0, PageSettings(slider, 0.4, "auto"))
            result = run.step(frame)
            faces += [p.event.face_id for p in result.predictions]
            out = run.inset_update()
            if isinstance(out, np.ndarray):
                shown.append((slider, out))
                assert out is result.insets[faces[-1]]  # the newest prediction's face, as the Analyzer published it
                assert run.inset_update() is not out  # sent once, then skipped until a new one comes
                if len(shown) == 1:
                    slider = 5.0  # the user moves the slider: the next event's face is magnified less
                else:
                    break
        assert faces, "no prediction in the first 200 frames of the demo clip"
        assert len(shown) == 2, f"{len(shown)} inset(s) shown for {len(faces)} prediction(s)"
        for at_slider, out in shown:
            assert [factor for factor, image in made if image is out] == [at_slider]
            assert out.dtype == np.uint8 and out.shape == (256, 256, 3)
        assert not np.array_equal(shown[0][1], shown[1][1])
    finally:
        app.sessions.close_all()


def test_the_newest_predictions_face_is_shown_else_any_face(face_model):
    app = App(config=StreamConfig(classify=False))  # spotting only: no engine needed for this
    try:
        run = app.sessions.get("pick").run("live", 10.0, PageSettings(10.0, 0.4, "auto"))
        insets = {}
        run._pick_inset([Prediction(SpotEvent(1, 1, 3, 5, 0.9, 10.0), "surprise", {"surprise": 1.0}, "test", 10.0)],
                        insets)
        assert run.inset is None  # no magnified face yet
        other = insets[0] = np.full((8, 8, 3), 1, np.uint8)
        run._pick_inset([], insets)
        assert run.inset_update() is other  # face 1's has not come: show the one there is
        own = insets[1] = np.full((8, 8, 3), 2, np.uint8)
        run._pick_inset([], insets)
        assert run.inset_update() is own  # the newest prediction's face wins
    finally:
        app.sessions.close_all()
