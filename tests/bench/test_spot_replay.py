"""bench.spot_replay: a recording of the demo (real PyAV + MediaPipe) replays to the live run's events."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import spot_replay
from bench import spotting as bench_spotting
from mecore.cli import from_options
from mecore.errors import MexError
from stream.config import StreamConfig
from stream.spot_eval import Interval, match, read_synthetic, spot_video

DEMO = Path(__file__).resolve().parents[2] / "stream" / "assets" / "demo.mp4"


@pytest.fixture(scope="module")
def recording(tmp_path_factory, face_model):
    return spot_replay.record(DEMO, tmp_path_factory.mktemp("rec") / "demo.npz")


def _spans(events) -> list[tuple[int, int, str]]:
    return sorted((e.onset_frame, e.offset_frame, e.kind) for e in events)


@pytest.mark.parametrize("spotter", ["flow", "moilanen", "learned"])
def test_replay_gives_the_live_runs_events(recording, spotter):
    live, frames, fps = spot_video(DEMO, StreamConfig(spotter=spotter))
    events, n, rate = spot_replay.replay(recording, StreamConfig(spotter=spotter))
    assert (n, rate) == (frames, fps) == (300, 30.0)
    assert len(events) == 5 and _spans(events) == sorted((i.onset, i.offset, i.kind) for i in live)
    truth = read_synthetic(DEMO.with_suffix(".json"))[0]["demo"]
    assert match(truth, [Interval("demo", e.onset_frame, e.offset_frame, e.kind) for e in events]) == (5, 0, 0)


def test_the_learned_spotter_guesses_each_demo_event_frames_before_it_emits_it(recording, capsys):
    """The guess comes once the face has gone back from its apex; the decoder emits the event only after
    6 frames of look-ahead and its gap, so a guess leaves the motion pass (about 3 frames) time to finish."""
    leads, unguessed, wasted = spot_replay.guess_leads(recording, StreamConfig(spotter="learned"))
    assert len(leads) == 5 and unguessed == 0 and wasted == 0
    assert min(leads) >= 4, leads  # at the first frame below the low level alone: 1 frame
    assert spot_replay.main([str(recording)]) == 0
    assert "5 micro events claimed a guess, 0 were not guessed" in capsys.readouterr().out


def test_a_setting_takes_effect_and_tracking_options_must_match(recording):
    assert spot_replay.replay(recording, StreamConfig(spotter="flow", flow_noise_factor=1000.0, flow_floor=50.0))[0] == []
    with pytest.raises(MexError, match=r"demo\.npz: recorded with max_faces=1, asked for 2"):
        spot_replay.replay(recording, StreamConfig(max_faces=2))
    assert spot_replay.recorded(recording, DEMO)["faces"] == [0]
    assert spot_replay.recorded(recording.with_name("none.npz")) is None


def test_bench_spotting_records_once_then_replays(tmp_path, face_model):
    cfg = StreamConfig()
    first = bench_spotting.spot(DEMO, cfg, tmp_path)
    (rec,) = tmp_path.glob("demo-*.npz")
    stamp = rec.stat().st_mtime_ns
    again = bench_spotting.spot(DEMO, cfg.updated(flow_noise_factor=4.0), tmp_path)
    assert rec.stat().st_mtime_ns == stamp and again == first and len(first[0]) == 5


def test_bench_spotting_takes_the_analysers_own_options(capsys):
    ap = bench_spotting.parser()
    cfg = from_options(StreamConfig, ap.parse_args(["--flow-noise-factor", "3", "--no-mask-eyes"]))
    assert cfg.flow_noise_factor == 3.0 and cfg.mask_eyes is False and cfg.spotter == StreamConfig().spotter
    for bad, why in ((["--nope", "1"], "unrecognized arguments: --nope"), (["--grid", "x"], "invalid int value: 'x'")):
        with pytest.raises(SystemExit):
            ap.parse_args(bad)
        assert why in capsys.readouterr().err
