"""The one frame loop: sinks that fail alone, pacing, controls between frames, the final result, the
run's provenance, a long event kept whole when max_event_s grows mid-stream, and a re-run from a summary."""

from __future__ import annotations

import json
import time

import av
import numpy as np
import pytest

from mecore.types import Frame
from stream.config import StreamConfig
from stream.pipeline import Analyzer, FrameResult
from stream.predictor import UNCLASSIFIED
from stream.runner import Controls, Runner
from stream.sinks import EventsFile
from stream.sources import open_source
from tests.stream.conftest import LABELS


def _clip(path, n=10, fps=25, size=(64, 48)):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), i * 20, np.uint8), "rgb24")))
        c.mux(s.encode(None))
    return path


class Recorder:
    """A sink with every optional part: it records what the runner gave it."""

    stage = "record"

    def __init__(self):
        self.results, self.info, self.report, self.polled = [], None, None, 0

    def __call__(self, result):
        self.results.append(result)
        time.sleep(0.002)

    def start(self, info):
        self.info = info

    def close(self, report):
        self.report = report


def test_sinks_get_every_frame_then_the_final_result_and_the_runs_provenance(tmp_path, face_model):
    rec, seen_timings = Recorder(), []
    with open_source(str(_clip(tmp_path / "c.mp4", n=10))) as src, \
            Analyzer(StreamConfig(classify=False, fps=src.fps)) as an:
        runner = Runner(an, [rec, lambda r: seen_timings.append(dict(r.timings))])
        report = runner.run(src)
    assert [r.frame.index for r in rec.results[:-1]] == list(range(10))
    final = rec.results[-1]
    assert final.final and final.frame is None and final.image is None and isinstance(final, FrameResult)
    # the runner times a sink with a ``stage`` into the result, so the sinks after it see it
    assert all(t["record"] >= 2.0 and "decode" in t and "landmarks" in t for t in seen_timings[:-1])
    assert rec.info["config"] == {**StreamConfig(classify=False, fps=25.0).__dict__}
    assert rec.info["artifacts"][0]["model"] == "face_landmarker" and len(rec.info["artifacts"][0]["sha256"]) == 64
    assert rec.info["code_version"] and rec.info["machine"]["cores"] >= 1
    assert rec.report is report and report["frames"] == 10 and report["config"] == rec.info["config"]


def test_a_failing_sink_does_not_stop_the_others(tmp_path, face_model, capsys):
    def broken(result):
        raise OSError("disk full")

    seen = []
    with open_source(str(_clip(tmp_path / "c.mp4", n=5))) as src, \
            Analyzer(StreamConfig(classify=False, fps=src.fps)) as an:
        report = Runner(an, [broken, seen.append]).run(src)
    assert len(seen) == 6 and report["frames"] == 5  # 5 frames + the final result
    assert capsys.readouterr().err.count("disk full") == 1  # reported once, not per frame


def test_pacing_max_frames_and_controls(tmp_path, face_model):
    clip = _clip(tmp_path / "c.mp4", n=10, fps=25)
    controls = Controls()
    seen = []

    def sink(r):
        seen.append(r)
        if r.frame is not None and r.frame.index == 2:
            controls.change(threshold_p=0.3)
            controls.change(fps=60.0)  # not a live field: refused, the run goes on
        if r.frame is not None and r.frame.index == 5:
            controls.change(max_event_s=2.0)

    with open_source(str(clip)) as src, Analyzer(StreamConfig(classify=False, fps=src.fps)) as an:
        t0 = time.monotonic()
        report = Runner(an, [sink], controls=controls, pace=True).run(src)
        paced = time.monotonic() - t0
        assert an.config.threshold_p == 0.3 and an.config.max_event_s == 2.0 and an.config.fps == 25.0
    assert paced >= 9 / 25 - 0.02  # read at the clip's frame rate, as a camera delivers it
    assert report["config_changes"] == [{"frame": 3, "threshold_p": 0.3}, {"frame": 6, "max_event_s": 2.0}]
    assert report["config"]["threshold_p"] == StreamConfig().threshold_p  # the config the run started with
    with open_source(str(clip)) as src, Analyzer(StreamConfig(classify=False, fps=src.fps)) as an:
        assert Runner(an, max_frames=4).run(src)["frames"] == 4
        stop = Controls()
        runner = Runner(an, [lambda r: setattr(stop, "quit", True)], controls=stop)
        assert runner.run(src)["frames"] == 1


def test_max_event_s_raised_mid_stream_keeps_a_long_event_whole(face_video, standin_engines):
    """A flicker at the mouth lasting 2 s (a movement that keeps the event open): with max_event_s 0.5
    the crops held per face reach back 35 frames, too few for its onset when it ends. Raised to 3 s
    mid-stream, the history grows with it and the event is classified from its own onset crop."""
    with av.open(str(face_video)) as c:
        images = [f.to_ndarray(format="rgb24") for _, f in zip(range(230), c.decode(video=0))]
    frames = []
    for i, img in enumerate(images):
        if 120 <= i < 180 and (i - 120) % 6 < 3:  # the lower face brightened every other 3 frames
            img = img.copy()
            img[400:466, 150:380] = np.clip(img[400:466, 150:380].astype(np.int16) + 25, 0, 255).astype(np.uint8)
        frames.append(Frame(img, i, i / 30.0, "flicker"))
    controls, emitted, preds = Controls(), [], []

    def sink(r):
        emitted.extend((e, r.frame.index if r.frame else None) for e in r.events)
        preds.extend(r.predictions)
        if r.frame is not None and r.frame.index == 20:
            controls.change(max_event_s=3.0)

    # the baseline spotter: its events are cut at max_event_s (the flow spotter's micro events are <= 0.5 s)
    cfg = StreamConfig(spotter="moilanen", max_event_s=0.5, overlay=False)
    with Analyzer(cfg, engines_dir=standin_engines) as an:
        report = Runner(an, [sink], controls=controls).run(frames)
        assert all(f.crops.maxlen == an.config.history for f in an._faces.values())
    assert report["config_changes"] == [{"frame": 21, "max_event_s": 3.0}]
    long = [(e, at) for e, at in emitted if at is not None and at - e.onset_frame > cfg.history]
    assert long, f"no event longer than the first history ({cfg.history} frames): {emitted}"
    for ev, _ in long:
        pred = [p for p in preds if p.event == ev]
        assert pred and pred[0].label in LABELS and pred[0].label != UNCLASSIFIED


def test_a_rerun_from_the_summarys_config_gives_the_same_events(demo_clip, tmp_path):
    def run(cfg: StreamConfig, path, frames=None):
        with open_source(str(demo_clip)) as src, Analyzer(cfg.with_fps(src.fps)) as an:
            Runner(an, [EventsFile(path)], max_frames=frames).run(src)
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        return [{k: r[k] for k in ("face_id", "onset_frame", "apex_frame", "offset_frame", "score")}
                for r in lines if r["type"] == "event"], lines[-1]

    first, summary = run(StreamConfig(classify=False, overlay=False, threshold_p=0.15, refractory_s=0.5),
                         tmp_path / "a.jsonl", frames=160)
    assert first and summary["type"] == "summary" and summary["config"]["threshold_p"] == 0.15
    assert {a["model"] for a in summary["artifacts"]} == {"face_landmarker"}  # spotting only: no engines
    again, _ = run(StreamConfig(**summary["config"]), tmp_path / "b.jsonl", frames=summary["frames"])
    assert again == first


@pytest.mark.parametrize("bad", [0, -3])
def test_max_frames_is_validated(bad, face_model):
    from mecore.errors import MexError

    with Analyzer(StreamConfig(classify=False)) as an, pytest.raises(MexError, match="max_frames"):
        Runner(an, max_frames=bad)


def test_events_carry_their_frames_own_times_in_a_variable_frame_rate_video(demo_clip, tmp_path):
    # a phone slows to 15 fps in dim light: frame / average rate would put later events at the wrong second
    from fractions import Fraction

    vfr = tmp_path / "vfr.mp4"
    with av.open(str(demo_clip)) as src, av.open(str(vfr), "w") as dst:
        out = dst.add_stream("libx264", rate=30)
        out.width, out.height, out.pix_fmt = 640, 480, "yuv420p"
        out.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i, f in enumerate(src.decode(video=0)):
            if i >= 200:
                break
            frame = av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            t += 67 if 20 <= i < 40 else 33  # 20 frames at 15 fps
            dst.mux(out.encode(frame))
        dst.mux(out.encode(None))
    with av.open(str(vfr)) as c:
        times = [f.time for f in c.decode(video=0)]
    path = tmp_path / "ev.jsonl"
    with open_source(str(vfr)) as src, Analyzer(StreamConfig(classify=False, overlay=False).with_fps(src.fps)) as an:
        Runner(an, [EventsFile(path)]).run(src)
        fps = src.fps
    events = [json.loads(x) for x in path.read_text().splitlines() if '"event"' in x]
    assert events, "no event in the demo's first 200 frames"
    for e in events:
        assert e["onset_s"] == round(times[e["onset_frame"]], 4) and e["apex_s"] == round(times[e["apex_frame"]], 4)
    # frame / average rate, the old seconds, were off after the slow stretch (half a second at the first event)
    assert max(abs(e["onset_s"] - e["onset_frame"] / fps) for e in events) > 0.1
