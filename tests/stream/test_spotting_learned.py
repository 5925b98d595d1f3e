"""stream.spotting_learned: the shipped engine's metadata drives it; a missing engine is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from mecore.errors import MexError
from stream.config import StreamConfig
from stream.spotters import make_spotter
from stream.spotting_learned import LearnedSpotter


def test_the_shipped_engine_sets_window_step_and_threshold_and_the_threshold_is_live():
    sp = make_spotter(StreamConfig(spotter="learned", fps=25.0))
    m = sp.engine.meta
    assert isinstance(sp, LearnedSpotter) and sp.k == 3 and sp._window.size == m["past"] + 1 + m["lookahead"]
    assert sp._decoder.threshold == m["threshold"]
    sp.reconfigure(StreamConfig(spotter="learned", fps=25.0, spot_threshold=0.95))
    assert sp._decoder.threshold == 0.95 and sp._decoder.low == pytest.approx(0.57)


def test_no_events_and_no_signal_before_the_window_fills():
    sp = LearnedSpotter(StreamConfig(spotter="learned"))
    rng = np.random.default_rng(0)
    lms = rng.uniform(60, 200, size=(478, 3)).astype(np.float32)
    grey = rng.integers(0, 255, size=(256, 256), dtype=np.uint8)
    got = [sp.update(i, grey, lms, 256) for i in range(sp.k + sp._window.size - 1)]
    assert all(evs == [] and sig is None for evs, sig in got)
    evs, sig = sp.update(sp.k + sp._window.size - 1, grey, lms, 256)
    assert sig is not None and 0.0 <= sig.contrast <= 1.0 and sig.frame == sp.k + sp.past


def test_a_missing_engine_names_how_to_make_one(tmp_path):
    with pytest.raises(MexError, match=r"--spotter learned: no spotter engine .*python -m train\.spotter"):
        make_spotter(StreamConfig(spotter="learned", spotter_model=str(tmp_path / "none.onnx")))


def test_auto_is_the_learned_spotter_where_its_engine_fits_the_frame_rate_and_flow_elsewhere(tmp_path, caplog):
    import logging

    from stream.spotters import resolve
    from stream.spotting_flow import FlowSpotter

    assert StreamConfig().spotter == "auto"
    assert [resolve(StreamConfig(fps=f)) for f in (30.0, 25.0, 10.0, 60.0)] == ["learned", "learned", "flow", "learned"]
    assert isinstance(make_spotter(StreamConfig(fps=10.0)), FlowSpotter)  # a browser webcam's 10 frames a second
    with pytest.warns(UserWarning, match=r"trained on 22.*fps clips, the source runs at 10"):
        assert isinstance(make_spotter(StreamConfig(spotter="learned", fps=10.0)), LearnedSpotter)  # asked for: kept
    with caplog.at_level(logging.INFO, logger="stream"):
        assert resolve(StreamConfig(spotter_model=str(tmp_path / "none.onnx"))) == "flow"
    assert "no spotter engine" in caplog.text


def test_a_faster_source_is_spotted_run_by_run_at_the_engines_rate(demo_clip):
    """A 60 fps phone video (or a 200 fps dataset clip) keeps the learned spotter: each run of 2 (7) frames is fed
    to it as one, averaged, so it finds what it finds at 30 fps, reported in the source's frame indices."""
    from stream.pipeline import Analyzer
    from stream.spotters import Strided
    from tests.stream.test_pipeline import _frames

    assert [LearnedSpotter.stride(StreamConfig(fps=f)) for f in (30.0, 36.0, 50.0, 60.0, 100.0, 200.0, 10.0)] == \
        [1, 1, 2, 2, 3, 7, None]
    inputs = []
    with Analyzer(StreamConfig(spotter="learned", classify=False, overlay=False),
                  spot_tap=lambda fid, x: inputs.append(x)) as an:
        for f in _frames(demo_clip, 170):
            an.process(f)
    at30 = LearnedSpotter(StreamConfig(spotter="learned"))
    at60 = make_spotter(StreamConfig(spotter="learned", fps=60.0))
    assert isinstance(at60, Strided) and at60.n == 2 and at60.spotter.k == at30.k
    fed = []
    update = at60.spotter.update
    at60.spotter.update = lambda *a: (fed.append(a[1]), update(*a))[1]
    want, got, signals = [], [], 0
    for x in inputs:  # each demo frame twice: a run's average is the frame itself
        want += at30.update(**x)[0]
        assert at60.update(**dict(x, index=2 * x["index"])) == ([], None)  # a run is fed at its last frame
        evs, sig = at60.update(**dict(x, index=2 * x["index"] + 1))
        got += evs
        signals += sig is not None
    want += at30.flush()
    got += at60.flush()
    assert len(want) >= 2 and signals and len(fed) == len(inputs)
    assert [(2 * e.onset_frame, 2 * e.apex_frame, 2 * e.offset_frame, e.kind, e.regions) for e in want] == \
        [(e.onset_frame, e.apex_frame, e.offset_frame, e.kind, e.regions) for e in got]
    assert all(e.fps == 60.0 for e in got) and all(e.fps == 30.0 for e in want)
    assert [round(e.duration_s, 3) for e in got] == [round(e.duration_s, 3) for e in want]

    # two different frames in a run: the spotter sees their average, blendshapes (the jaw's opening) too
    a, b = inputs[0], dict(inputs[1], blendshapes={"jawOpen": 0.4})
    fed.clear()
    shapes = []
    at60.spotter.update = lambda *a: (fed.append(a[1]), shapes.append(a[-1]), update(*a))[-1]
    at60.update(**dict(a, index=1000, blendshapes={"jawOpen": 0.1}))
    at60.update(**dict(b, index=1001))
    want_grey = np.rint((a["grey"].astype(np.float32) + b["grey"]) / 2).astype(np.uint8)
    assert len(fed) == 1 and np.array_equal(fed[0], want_grey)
    assert shapes == [{"jawOpen": pytest.approx(0.25)}]

    # a live source that dropped a run's last frame: the run is fed, alone, when the next run begins
    live = make_spotter(StreamConfig(spotter="learned", fps=60.0))
    out = []
    for x in inputs:
        out.append(live.update(**dict(x, index=2 * x["index"])))
        if x["index"] % 5:
            out.append(live.update(**dict(x, index=2 * x["index"] + 1)))
    assert sum(s is not None for _, s in out) == signals
    run = inputs[-1]["index"] - live.spotter.lookahead  # the newest signal's frame, in the spotter's own frames
    assert [s for _, s in out if s][-1].frame == 2 * run  # a run's first frame
    # a long live run forgets old runs' first frames, even across skipped runs
    live.KEEP = 8
    for x in inputs[:60]:
        live.update(**dict(x, index=6 * x["index"] + 1))  # every third run only
    assert len(live._first) <= 2 * live.KEEP + 1


def test_one_sensitivity_moves_whichever_spotter_runs():
    from stream.spotters import retune

    learned = StreamConfig(spotter="learned")
    t0 = LearnedSpotter.default_threshold(learned)
    assert retune(learned, 0.5, 0.5)["spot_threshold"] == pytest.approx(t0)
    keen, strict = retune(learned, 0.5, 1.0)["spot_threshold"], retune(learned, 0.5, 0.0)["spot_threshold"]
    assert 0.0 < keen < t0 < strict < 1.0  # more sensitive: a lower p(event) opens an event
    logit = [np.log(p / (1 - p)) for p in (keen, t0, strict)]
    assert logit == pytest.approx([logit[1] - 2.0, logit[1], logit[1] + 2.0])  # 2 for each 0.5, whatever the engine's
    back = retune(StreamConfig(spotter="learned", spot_threshold=keen), 1.0, 0.5)["spot_threshold"]
    assert back == pytest.approx(t0)  # there and back
    assert retune(StreamConfig(spotter="flow"), 0.5, 1.0) == {"flow_noise_factor": pytest.approx(2.0)}
    assert retune(StreamConfig(spotter="moilanen"), 0.5, 0.0) == {"threshold_p": pytest.approx(0.2)}
    assert set(retune(StreamConfig(fps=10.0), 0.5, 1.0)) == {"flow_noise_factor"}  # auto at 10 fps runs flow


def test_a_learned_threshold_given_to_another_spotter_is_said_to_be_unused(caplog):
    with caplog.at_level("WARNING", logger="stream"):
        make_spotter(StreamConfig(fps=10.0, spot_threshold=0.97))  # auto at 10 fps: flow runs
        make_spotter(StreamConfig(fps=10.0, spot_threshold=0.97), face_id=1)  # once, not per face
        make_spotter(StreamConfig(fps=30.0, spot_threshold=0.97))  # learned runs: used, nothing said
    said = [r.getMessage() for r in caplog.records if "--spot-threshold" in r.getMessage()]
    assert len(said) == 1 and "flow spotter runs here (10 fps)" in said[0]
