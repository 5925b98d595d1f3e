"""The synthetic micro-expression generator, with real MediaPipe and real PyAV encode/decode."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from mecore.errors import MexError
from mecore.face.au import au_numbers, parse_aus
from train import synth_me
from train.synth.casme_layout import SHEET_COLUMNS
from train.synth.events import CLASSES, PROGRAMS, parse_program
from train.synth.long_clips import LongClipConfig, long_clip_from_video, make_long_clip, ping_pong
from train.synth.render import Nuisance, Renderer
from train.synth.warp import sample

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tracker(face_model):
    from mecore.face.tracker import FaceTracker

    with FaceTracker(face_model, mode="image") as t:
        yield t


@pytest.fixture(scope="module")
def subject(tracker):
    from train.synth.faces import load_sources, make_subject

    return make_subject(load_sources(None, tracker)[0], 1, np.random.default_rng(3), tracker)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, face_model):
    outs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(name) / "synth"
        synth_me.generate(out, subjects=2, clips_per_subject=2, seed=7, progress=False)
        outs.append(out)
    return outs


def _frames(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): cv2.imread(str(p)) for p in sorted(root.glob("sub*/*/img*.jpg"))}


def test_same_seed_same_sheet_and_frames(two_runs):
    a, b = two_runs
    for name in ("CASME2-coding.xlsx", "CASME2-coding.csv", "ground_truth.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    fa, fb = _frames(a), _frames(b)
    assert fa.keys() == fb.keys() and len(fa) > 0
    for key in fa:
        assert np.array_equal(fa[key], fb[key]), key


def test_other_seed_other_data(two_runs, tmp_path):
    synth_me.generate(tmp_path / "c", subjects=1, clips_per_subject=2, seed=8, progress=False)
    first = sorted((tmp_path / "c").glob("sub01/EP01_01/img*.jpg"))[0]
    assert not np.array_equal(cv2.imread(str(first)), cv2.imread(str(two_runs[0] / first.relative_to(tmp_path / "c"))))


def test_sheet_parses_back(two_runs):
    import pandas as pd

    root = two_runs[0]
    sheet = pd.read_excel(root / "CASME2-coding.xlsx")
    assert list(sheet.columns) == list(SHEET_COLUMNS)
    assert len(sheet) == 4
    csv = pd.read_csv(root / "CASME2-coding.csv", dtype={"Action Units": str})
    pd.testing.assert_frame_equal(sheet.astype(str), csv.astype(str))
    gt_all = json.loads((root / "ground_truth.json").read_text())
    truth = {(c["subject"], c["filename"]): c for c in gt_all["clips"]}
    kinds = {s["subject"]: s["kind"] for s in gt_all["subjects"]}
    assert sorted(kinds.values()) == ["photo", "video"] or set(kinds.values()) == {"photo"}  # no shared clips
    for i, row in sheet.iterrows():
        where = f"sheet row {i + 2}"
        assert isinstance(row["Subject"], (int, np.integer)) and 1 <= row["Subject"] <= 2
        label = row["Estimated Emotion"]
        assert label in CLASSES
        codes = parse_aus(row["Action Units"], where)
        allowed = {au for text, _ in PROGRAMS[label] for au, _ in parse_program(text)}
        assert codes and {c.au for c in codes} <= allowed, (where, row["Action Units"])
        assert row["OnsetFrame"] <= row["ApexFrame"] <= row["OffsetFrame"]
        clip = root / f"sub{row['Subject']:02d}" / row["Filename"]
        gt = truth[(row["Subject"], row["Filename"])]
        numbers = sorted(int(p.stem[3:]) for p in clip.glob("img*.jpg"))
        assert numbers == list(range(1, gt["n_frames"] + 1))
        assert numbers[0] < row["OnsetFrame"] and row["OffsetFrame"] <= numbers[-1]
        assert 0.04 <= (row["OffsetFrame"] - row["OnsetFrame"]) / 30.0 <= 0.5
        assert au_numbers(gt["aus"]) == au_numbers(row["Action Units"])
        img = cv2.imread(str(clip / f"img{row['ApexFrame']}.jpg"))
        # the face is 120-400 px wide: the frame is about 1.1-1.4 face widths (photo) or 2 (video)
        assert 120 <= img.shape[1] <= 820
        if kinds[row["Subject"]] == "video":
            assert 120 <= gt["video_cut"]["face_px"] <= 400 and img.shape[1] == 2 * round(gt["video_cut"]["face_px"])
        assert gt["warp"] in ("rbf", "tps") and gt["kind"] == "micro" and 80 <= gt["jpeg_quality"] <= 95


def test_refuses_user_folder_and_reuses_its_own(tmp_path, capsys, face_model):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("precious")
    assert synth_me.main(["--out", str(user), "--subjects", "1", "--clips-per-subject", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(user) in err and err[-1] == "\n" and err.count("\n") == 1
    assert (user / "notes.txt").read_text() == "precious" and len(list(user.iterdir())) == 1

    out = tmp_path / "synth"
    assert synth_me.main(["--out", str(out), "--subjects", "2", "--clips-per-subject", "2", "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("synth: 2 subjects, 4 clips (") and "happiness" in line and line.count("\n") == 0
    assert synth_me.main(["--out", str(out), "--subjects", "1", "--clips-per-subject", "2", "--quiet"]) == 0
    assert not (out / "sub02").exists()  # the previous run's extra subject is gone, not left stale


@pytest.mark.parametrize("au", [1, 2, 4, 10, 12, 14])
def test_injected_au_moves_its_region_by_the_requested_amount(subject, tracker, au):
    g, amount = subject.geometry, 2.5
    field = g.field([(au, "", amount)])
    apex = Renderer(subject.image, subject.centre).render(field)
    verts, unit = g.au_vectors(au)
    want = unit * amount  # frame px
    pts = subject.landmarks[list(verts), :2]

    # The field does what was asked at the AU's vertices ...
    assert np.abs(sample(field, pts) - want).max() < 0.05 * amount
    # ... and the pixels really moved so: dense optical flow measured between base and apex frames.
    grey = [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in (subject.image, apex)]
    flow = cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 3, 9, 5, 5, 1.1, 0)
    got = sample(flow, pts)
    assert np.linalg.norm(got.mean(0) - want.mean(0)) < 0.2 * np.linalg.norm(want, axis=1).mean()
    assert np.median(np.linalg.norm(got - want, axis=1)) < 0.6

    # The face tracker, re-run on the apex frame, sees the region move the same way (its mesh
    # regresses towards a face prior, so only the pattern's direction is compared: cosine of the
    # stacked vertex displacements).
    moved = tracker.detect(apex)[0].landmarks[list(verts), :2] - tracker.detect(subject.image)[0].landmarks[list(verts), :2]
    m, w = moved.ravel(), want.ravel()
    assert m @ w / (np.linalg.norm(m) * np.linalg.norm(w)) > 0.7

    # The rest of the face does not move: the field is < 0.1 px at every landmark outside the AU's
    # influence radius, and the pixels there are unchanged.
    lms = subject.landmarks[:, :2]
    dist = np.sqrt(((lms[:, None] - pts[None]) ** 2).sum(-1)).min(1)
    rest = lms[dist >= g.radius]
    assert len(rest) > 200
    assert np.linalg.norm(sample(field, rest), axis=1).max() < 0.1
    far = lms[dist >= 1.5 * g.radius].round().astype(int)
    diff = np.abs(apex.astype(int) - subject.image.astype(int)).max(-1)
    assert diff[far[:, 1], far[:, 0]].max() <= 1


def test_nuisance_free_still_frames_are_the_base(subject):
    r = Renderer(subject.image, subject.centre)
    assert np.array_equal(r.render(None, np.array([0, 0, 0, 1.0]), np.array([1.0, 0.0]), None), subject.image)
    assert Nuisance.none().noise == (0.0, 0.0)


def _check_long_clip(mp4: Path, truth: dict, frames: int, gap_s: float):
    import av

    on_disk = json.loads(mp4.with_suffix(".json").read_text())
    assert on_disk == json.loads(json.dumps(truth))
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == truth["frame_count"] == frames
    assert decoded[0].shape == (truth["height"], truth["width"], 3)
    assert truth["frame_index_base"] == 0 and truth["fps"] > 0
    gap = int(np.ceil(gap_s * truth["fps"]))
    previous_offset = 0
    for ev in truth["events"]:
        assert previous_offset + gap <= ev["onset"] < ev["apex"] < ev["offset"] <= frames - gap
        assert 0.04 <= (ev["offset"] - ev["onset"]) / truth["fps"] <= 0.5
        assert ev["label"] in CLASSES and parse_aus(ev["aus"])
        assert set(ev["displacement_px"]) == set(ev["aus"].split("+"))
        previous_offset = ev["offset"]
    return decoded


def test_long_clip_from_a_still(tmp_path, face_model):
    cfg = LongClipConfig(seconds=4.0, events=2, gap_s=0.8)
    mp4 = tmp_path / "still.mp4"
    truth = make_long_clip("astronaut", mp4, cfg, seed=1, size=(320, 360))
    _check_long_clip(mp4, truth, 120, cfg.gap_s)
    assert len(truth["events"]) == 2 and truth["source"] == "astronaut"


def test_long_clip_from_a_real_video(tmp_path, face_video, face_model):
    import av

    cfg = LongClipConfig(events=2, gap_s=0.5, max_frames=90)
    mp4 = tmp_path / "face_me.mp4"
    truth = long_clip_from_video(face_video, mp4, cfg, seed=0)
    decoded = _check_long_clip(mp4, truth, 90, cfg.gap_s)
    # Event-free frames are the source's frames (up to re-encoding); every event's apex frame
    # differs from its source frame more than any of them: the injected motion is really there.
    with av.open(str(face_video)) as container:
        source = [f.to_ndarray(format="rgb24") for _, f in zip(range(90), container.decode(video=0))]
    change = [np.percentile(cv2.absdiff(a, b), 99.9) for a, b in zip(decoded, source)]
    busy = {i for ev in truth["events"] for i in range(ev["onset"] + 1, ev["offset"])}
    free = max(c for i, c in enumerate(change) if i not in busy)
    assert free <= 16
    for ev in truth["events"]:
        assert change[ev["apex"]] > free + 5, ev


def test_ping_pong_plays_a_video_forward_and_back():
    assert ping_pong(9, 4).tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert ping_pong(3, 1).tolist() == [0, 0, 0]


def test_a_video_played_to_a_duration_with_seeded_sway(tmp_path, face_video, face_model):
    import av

    def grey(path, n):
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="gray").astype(np.float32) for _, f in zip(range(n), container.decode(video=0))]

    cfg = LongClipConfig(events=1, gap_s=0.3, max_frames=15, video_seconds=1.5)  # 15 source frames -> 45
    plain = long_clip_from_video(face_video, tmp_path / "plain.mp4", cfg, seed=0)
    _check_long_clip(tmp_path / "plain.mp4", plain, 45, cfg.gap_s)
    frames, source, order = grey(tmp_path / "plain.mp4", 45), grey(face_video, 15), ping_pong(45, 15)
    # 15 frames are too few to choose where to turn (train.synth.playback): its ends, each listed in the sheet
    assert plain["turns"] == [14, 28, 42] and plain["turn_s"] > 0
    busy = {i for ev in plain["events"] for i in range(ev["onset"] + 1, ev["offset"])}
    free = [i for i in range(45) if i not in busy]
    window = cv2.createHanningWindow(frames[0].shape[::-1], cv2.CV_32F)

    def shift(a, b) -> float:
        return float(np.hypot(*cv2.phaseCorrelate(a, b, window)[0]))

    # without sway: the source's frames, forward and back, up to re-encoding (measured: < 0.1 px, 2.1 grey levels)
    assert max(shift(source[order[i]], frames[i]) for i in free) < 0.3
    assert max(np.abs(frames[i] - source[order[i]]).mean() for i in free) < 3.0
    for seed in (0, 1):
        truth = long_clip_from_video(face_video, tmp_path / f"sway{seed}.mp4", replace(cfg, video_nuisance=True),
                                     seed=seed)
        if seed == 0:
            assert truth["events"] == plain["events"]  # the sway is drawn after the events: same ground truth
        swayed = grey(tmp_path / f"sway{seed}.mp4", 45)
        still = [i for i in free if not any(ev["onset"] < i < ev["offset"] for ev in truth["events"])]
        # the head sways (measured on seeds 0-5: at least 1.3 px at some frame of the 45)
        assert max(shift(frames[i], swayed[i]) for i in still) > 0.5


def test_long_clip_needs_room_for_its_events(tmp_path, face_model):
    with pytest.raises(MexError, match="events"):
        make_long_clip("astronaut", tmp_path / "x.mp4", LongClipConfig(seconds=1.0, events=3), size=(256, 288))


def test_bundled_demo_clip():
    import av

    mp4, meta = REPO / "stream" / "assets" / "demo.mp4", REPO / "stream" / "assets" / "demo.json"
    truth = json.loads(meta.read_text())
    assert mp4.stat().st_size <= 1.5e6
    with av.open(str(mp4)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        n = sum(1 for _ in container.decode(video=0))
    assert n == truth["frame_count"] and 8 <= n / truth["fps"] <= 12
    assert sorted(e["label"] for e in truth["events"]) == sorted(CLASSES)
    assert "python -m train.synth_me demo" in truth["command"]
    # a person the default set holds out (train.synth.demo checks the split when it writes the clip)
    from train.synth.demo import DEMO_PERSON

    assert truth["person"] == DEMO_PERSON and truth["appearance"]["width"] == truth["width"]


def test_long_clips_of_your_own_face_like_the_held_out_ones(tmp_path, face_model, capsys):
    # synth_me long --like-holdout: a macro-expression, the four distractors and a drawn CRF, as in holdout/long;
    # --warp mesh renders every event in the family no training clip uses
    out = tmp_path / "mine"
    assert synth_me.main(["long", "--source", "astronaut", "--out", str(out), "--like-holdout", "--seconds", "16",
                          "--fps", "10", "--events", "2", "--warp", "mesh"]) == 0
    truth = json.loads((out / "long01.json").read_text())
    assert sorted(e["kind"] for e in truth["events"]) == ["macro", "micro", "micro"]
    assert {e["warp"] for e in truth["events"]} == {"mesh"} and len(truth["distractors"]) == 4
    assert 18 <= truth["look"]["crf"] <= 30 and truth["frame_count"] == 160
    assert all(0.5 <= v <= 3.0 for e in truth["events"] if e["kind"] == "micro" for v in e["displacement_px"].values())
    assert "1 clips, 3 events from astronaut" in capsys.readouterr().out
    # a length given as 0 is refused, not taken for "not given"
    assert synth_me.main(["long", "--source", "astronaut", "--out", str(tmp_path / "zero"), "--seconds", "0"]) == 2
