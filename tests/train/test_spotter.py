"""train.spotter: trained on recordings of real MediaPipe runs, exported, and served by the stream's
LearnedSpotter with the same events its training code decodes (no drift between the two paths)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import spot_replay
from mecore import spotrec
from mecore.errors import MexError
from stream.config import StreamConfig
from train import spotter, spotter_cv, spotter_data, spotter_mix

ASSETS = Path(__file__).resolve().parents[2] / "stream" / "assets"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, face_model):
    root = tmp_path_factory.mktemp("spotter")
    truth = root / "long"
    truth.mkdir()
    d = json.loads((ASSETS / "demo.json").read_text(encoding="utf-8"))
    first = None
    for sub in ("sub01_01", "sub02_01", "sub03_01"):  # three "people": two to train on, one to validate
        video = truth / f"{sub}.mp4"
        shutil.copy(ASSETS / "demo.mp4", video)
        (truth / f"{sub}.json").write_text(json.dumps({**d, "video": video.name}), encoding="utf-8")
        rec = spotrec.path_for(root / "rec", video)
        if first is None:
            first = spot_replay.record(video, rec)
        else:  # the same frames: one MediaPipe run is enough
            shutil.copy(first, rec)
    cfg = spotter.SpotterConfig(record=root / "rec", truth=[truth], out=root / "out", publish_dir=root / "engines",
                                epochs=40, runs=1, val_identities=1, lr=5e-3)
    return cfg, spotter.train(cfg), first


def test_it_learns_the_clips_events_and_publishes_a_self_describing_engine(trained):
    cfg, report, _ = trained
    assert len(report["val_identities"]) == 1 and len(report["train_identities"]) == 2
    assert not set(report["val_identities"]) & set(report["train_identities"])
    assert report["chosen"]["f1_micro"] >= 0.6, report["chosen"]
    fit = report["train_fit"]  # the chosen network on its own training clips, as a check of underfitting
    assert fit["micro"][0] > 0 and fit["threshold"] == report["chosen"]["threshold"]
    manifest = json.loads((cfg.publish_dir / "manifest.json").read_text())
    meta = manifest["artifacts"]["spotter.onnx"]["meta"]
    assert meta["threshold"] == report["chosen"]["threshold"] and meta["labels"] == ["none", "micro", "macro"]
    assert meta["min_frames"] == report["chosen"]["min_frames"] in spotter.MIN_FRAMES
    assert meta["gap"] == report["chosen"]["gap"] in spotter.GAPS
    assert (meta["step_s"], meta["past"], meta["lookahead"], meta["fps"]) == (0.15, 33, 6, [30.0])
    assert meta["footage"] == {"mixed": [], "checked": []}  # no event-free footage here: none steered it


def test_the_stream_decodes_what_training_decoded(trained):
    import torch

    from mecore.nets import build

    cfg, report, rec = trained
    ck = torch.load(cfg.out / "spotter.pt", weights_only=False)
    model = build(ck["arch"], ck["kwargs"])
    model.load_state_dict(ck["state_dict"])
    clip = next(c for c in spotter.load_clips(cfg) if c.identity == report["val_identities"][0])
    chosen = report["chosen"]
    offline = spotter.decode(clip, spotter.predict(model, [clip], cfg)[0], chosen["threshold"], chosen["min_frames"],
                             chosen["gap"])
    live, _, _ = spot_replay.replay(rec, StreamConfig(spotter="learned", spotter_model=str(cfg.publish_dir / "spotter.onnx")))
    assert offline and [(e.onset_frame, e.offset_frame, e.kind) for e in live] == [(i.onset, i.offset, i.kind) for i in offline]
    assert all(e.regions and e.aus for e in live)


def test_decoders_within_the_false_alarm_budget_win_however_high_their_f1_elsewhere():
    quiet = {"false_per_min": 0.8, "f1_micro": 0.5, "f1": 0.5}
    eager = {"false_per_min": 2.0, "f1_micro": 0.9, "f1": 0.9}
    calmer = {"false_per_min": 1.5, "f1_micro": 0.1, "f1": 0.1}
    assert max([eager, quiet, calmer], key=lambda s: spotter.rank(s, 1.0)) is quiet
    assert max([eager, calmer], key=lambda s: spotter.rank(s, 1.0)) is calmer  # none within: the fewest alarms
    assert max([eager, quiet], key=lambda s: spotter.rank(s, 3.0)) is eager
    loud_on_real = dict(quiet, free_per_min=1.7)  # quiet on the clips, not on event-free footage: outside
    assert max([loud_on_real, calmer], key=lambda s: spotter.rank(s, 1.0)) is calmer


def test_event_free_footage_never_includes_a_held_out_persons(tmp_path, trained):
    cfg, _, _ = trained
    folder = cfg.truth[0]
    ids = tmp_path / "identities.json"
    ids.write_text(json.dumps({"holdout": ["p2"], "sources": {"p2": {"path": str(folder / "sub02_01.mp4")}}}))
    with pytest.raises(MexError, match="needs --identities"):
        spotter.SpotterConfig(record=cfg.record, truth=cfg.truth, event_free=[folder])
    named = spotter.SpotterConfig(record=cfg.record, truth=cfg.truth, event_free=[folder / "sub02_01.mp4"], identities=ids)
    with pytest.raises(MexError, match=r"sub02_01\.mp4: held-out person p2's footage"):
        spotter.load_event_free(named)
    free = spotter.load_event_free(spotter.SpotterConfig(record=cfg.record, truth=cfg.truth, event_free=[folder],
                                                         identities=ids))
    assert [c.identity for c in free] == ["event-free/sub01_01", "event-free/sub03_01"]
    assert all(not c.truth and not c.y.any() for c in free)


def test_missing_recordings_and_too_few_people_are_named(tmp_path, trained):
    cfg, _, _ = trained
    with pytest.raises(MexError, match=r"no recording of .*sub01_01\.mp4; record them first: python -m bench\.spotting"):
        spotter.load_clips(spotter.SpotterConfig(record=tmp_path, truth=cfg.truth))
    clips = spotter.load_clips(cfg)
    with pytest.raises(MexError, match="3 identities, 3 asked for validation"):
        spotter.split(clips, 3, 0)
    with pytest.raises(MexError, match="at least one --truth"):
        spotter.SpotterConfig()
    with pytest.raises(MexError, match=r"--flow-size must be in \[32, 256\].*got 320"):
        spotter.SpotterConfig(truth=cfg.truth, flow_size=320)
    assert np.array_equal(clips[0].x, clips[1].x)  # the same recording gives the same features


def test_train_only_people_never_change_the_validation_draw(tmp_path, trained):
    cfg, _, _ = trained
    clips = spotter.load_clips(cfg)
    # a person added only to train (--train-only) leaves each seed's validation draw as it was
    added = [dataclasses.replace(c, identity="long/sub04", train_only=True) for c in clips[:1]]
    for seed in range(4):
        train_ids, val_ids = spotter.split(clips, 1, seed)
        assert spotter.split(clips + added, 1, seed) == (sorted([*train_ids, "long/sub04"]), val_ids)
    with pytest.raises(MexError, match="3 identities, 3 asked"):
        spotter.split(clips + added, 3, 0)
    for seed in range(4):  # --folds deals them into no fold either: always trained on
        assert spotter_cv.deal(clips + added, 3, seed) == spotter_cv.deal(clips, 3, seed)
    with pytest.raises(MexError, match=r"given as --truth and as --train-only; give it once"):
        spotter.SpotterConfig(record=cfg.record, truth=cfg.truth, train_only=cfg.truth)
    more = tmp_path / "more" / cfg.truth[0].name  # another folder of the same name, as the generator writes it
    shutil.copytree(cfg.truth[0], more)
    rec = tmp_path / "rec"
    shutil.copytree(cfg.record, rec)
    for video in more.glob("*.mp4"):
        shutil.copy2(spotrec.path_for(cfg.record, cfg.truth[0] / video.name), spotrec.path_for(rec, video))
    loaded = spotter.load_clips(spotter.SpotterConfig(record=rec, truth=cfg.truth, train_only=[more]))
    assert len(loaded) == 2 * len(clips) and sum(c.train_only for c in loaded) == len(clips)


def test_only_the_validation_peoples_event_free_clips_are_checked(tmp_path, trained):
    # --free (train.synth_me --train-free): spot/free/subNN_* joins long/subNN, and only validation people's are read
    cfg, report, first = trained
    free = tmp_path / "free"
    free.mkdir()
    d = json.loads((ASSETS / "demo.json").read_text(encoding="utf-8"))
    for sub in ("sub01_01", "sub02_01", "sub03_01"):
        video = free / f"{sub}.mp4"
        shutil.copy(ASSETS / "demo.mp4", video)
        (free / f"{sub}.json").write_text(json.dumps({**d, "video": video.name, "events": []}), encoding="utf-8")
        shutil.copy(first, spotrec.path_for(cfg.record, video))
    kept = dataclasses.replace(cfg, network=cfg.out / "spotter.pt", out=tmp_path / "out",
                               publish_dir=tmp_path / "engines", free=[free])
    (val,) = report["val_identities"]
    again = spotter.train(kept)
    assert again["footage"]["checked"] == [f"free/{val.split('/')[1]}_01"]
    # the demo's own motion, every micro event false: the budget is now checked on it too
    assert again["chosen"]["free_per_min"] != report["chosen"]["free_per_min"]
    clips = spotter.load_clips(cfg)
    va = [c for c in clips if c.identity == val]
    (clip,) = spotter_data.own_free(kept, va)
    assert clip.identity == val and not clip.truth and not clip.y.any()
    # --train-on-free: the training people's, the same way
    assert sorted(c.identity for c in spotter_data.own_free(kept, clips)) == sorted({c.identity for c in clips})
    with pytest.raises(MexError, match="--train-on-free trains on the --free clips"):
        spotter.SpotterConfig(record=cfg.record, truth=cfg.truth, train_on_free=True)
    sheet = free / f"{val.split('/')[1]}_01.json"
    sheet.write_text(json.dumps({**d, "video": sheet.with_suffix(".mp4").name, "source": "someone-else", "events": []}))
    with pytest.raises(MexError, match=rf"{val.split('/')[1]}_01\.mp4: not an event-free clip of {val} \(is of "
                                       r"'someone-else', .*give --free the spot/free folders"):
        spotter_data.own_free(kept, va)
    sheet.write_text(json.dumps({**d, "video": sheet.with_suffix(".mp4").name}))
    with pytest.raises(MexError, match=r"not an event-free clip of .* \(has events\)"):
        spotter_data.own_free(kept, va)


def test_a_kept_network_gets_its_decoder_chosen_again_and_nothing_else(tmp_path, trained):
    import torch

    cfg, report, _ = trained
    kept = dataclasses.replace(cfg, network=cfg.out / "spotter.pt", out=tmp_path / "out", publish_dir=tmp_path / "engines")
    again = spotter.train(kept)
    for k in ("train_seed", "epoch", "threshold", "min_frames", "gap", "micro", "f1_micro"):
        assert again["chosen"][k] == report["chosen"][k], k  # the same network on the same people
    a, b = (torch.load(d / "spotter.pt", weights_only=False)["state_dict"] for d in (cfg.out, kept.out))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(MexError, match=r"spotter\.pt: trained with other settings \(lookahead 6 here 3\)"):
        spotter.train(dataclasses.replace(kept, lookahead=3))


def test_mixing_adds_real_movement_and_normalises_the_sum_as_the_stream_does(trained):
    cfg, _, first = trained
    _, x, _ = spotter.cached_features(first, cfg)
    flow, _ = spotter_mix.raw(x)
    context = x[:, 3 * spotter_mix.R:]
    assert np.allclose(spotter_mix.vectors(flow, context), x, atol=1e-5)  # SpotFeatures' own vectors, rebuilt
    moved, _ = spotter_mix.played(x, 2 * len(x) + 3, 0)  # forward, back with its flow negated, forward again
    assert np.allclose(moved[:len(x)], flow) and np.allclose(moved[len(x):2 * len(x)], -flow[::-1])
    assert np.allclose(moved[2 * len(x):], flow[:3])
    clip = next(c for c in spotter.load_clips(cfg))
    still = np.zeros_like(x)
    still[:, 2 * spotter_mix.R:3 * spotter_mix.R] = x[:, 2 * spotter_mix.R:3 * spotter_mix.R]  # no flow, any noise
    same = spotter_mix.mix(clip, still, np.random.default_rng(0))
    assert np.allclose(same.x, clip.x, atol=1e-5) and same.y is clip.y and same.pos is clip.pos
    both = spotter_mix.mix(clip, x, np.random.default_rng(1))
    summed, _ = spotter_mix.raw(both.x)
    own, _ = spotter_mix.raw(clip.x)
    extra = summed - own
    rng = np.random.default_rng(1)  # mix's draws: mirrored or not, then where the footage starts
    footage = spotter.mirror(x) if rng.random() < 0.5 else x
    expected, _ = spotter_mix.played(footage, len(clip.x), int(rng.integers(2 * len(x))))
    assert np.abs(extra).max() > 0.1 and np.allclose(extra, expected, atol=1e-4)
    assert not np.allclose(both.x[:, :2 * spotter_mix.R], clip.x[:, :2 * spotter_mix.R])


def test_a_clip_without_its_sheet_beside_it_is_named(tmp_path):
    with pytest.raises(MexError, match=r"sub01_01\.json: no ground-truth sheet beside its clip"):
        spotter_data.source_of(tmp_path / "sub01_01.json")


def test_only_training_peoples_footage_is_mixed_in_and_the_rest_checks_false_alarms(tmp_path, trained):
    cfg, _, _ = trained
    folder = cfg.truth[0]
    ids = tmp_path / "identities.json"
    ids.write_text(json.dumps({"train": ["p1", "p3"], "holdout": [], "sources": {
        "p1": {"path": str(folder / "sub01_01.mp4")}, "p3": {"path": str(folder / "sub03_01.mp4")}}}))
    free = spotter.load_event_free(spotter.SpotterConfig(record=cfg.record, truth=cfg.truth, event_free=[folder],
                                                         identities=ids))
    val = [c for c in spotter.load_clips(cfg) if c.key == "sub02_01"]
    assert val[0].source == json.loads((ASSETS / "demo.json").read_text(encoding="utf-8"))["source"]  # from its sheet
    val = [dataclasses.replace(val[0], source="sub03_01.mp4")]  # a validation clip made from p3's footage
    mixed, checked = spotter_mix.footage_for(free, val, ids)
    # p1 trains; p3 validates, so its footage is not trained on; sub02_01 is nobody's
    assert [c.key for c in mixed] == ["sub01_01"] and [c.key for c in checked] == ["sub02_01", "sub03_01"]
    run = dataclasses.replace(cfg, mix=1, event_free=[folder], identities=ids, epochs=2, out=tmp_path / "out",
                              publish_dir=tmp_path / "engines")
    assert spotter.train(run)["chosen"]["mix"] == 1
    kept = dataclasses.replace(run, network=run.out / "spotter.pt", out=tmp_path / "kept")
    assert spotter.train(kept)["chosen"]["mix"] == 1
    with pytest.raises(MexError, match=r"spotter\.pt: trained with --mix 1; choose its decoder with --mix"):
        spotter.train(dataclasses.replace(kept, mix=0))


def test_mixed_clips_get_their_noise_levels_by_spotfeatures_own_rule():
    """Flow growing from still to talking: each region's level moves, and vectors() follows SpotFeatures frame
    by frame (the optical flow itself is given: the rule under test is the normalisation)."""
    from mecore.spotflow import FlowFrame, SpotFeatures

    r, n = spotter_mix.R, 400
    flow = np.random.default_rng(0).normal(size=(n, r, 2)).astype(np.float32) * np.linspace(0.05, 2, n)[:, None, None]
    feats, given = SpotFeatures(k=1), iter(flow)
    feats.flow.vectors = lambda ref, cur: next(given)

    def frame(i):
        return FlowFrame(i, np.zeros((128, 128), np.uint8), np.zeros((r, 2), np.float32), np.zeros(1, bool), 0.0,
                         np.zeros(2, np.float32), 1.0)

    feats.update(frame(0))
    x = np.stack([feats.update(frame(i)) for i in range(1, n + 1)])
    assert x[-1, 2 * r:3 * r].min() > 1.0  # well above the floor by the end
    assert np.allclose(spotter_mix.vectors(flow, x[:, 3 * r:]), x, atol=1e-5)


def test_cross_validation_trains_on_everyone_and_chooses_the_epoch_out_of_fold(tmp_path, trained):
    cfg, _, _ = trained
    clips = spotter.load_clips(cfg)
    folds = spotter_cv.deal(clips, 3, cfg.seed)
    assert sorted(sum(folds, [])) == ["long/sub01", "long/sub02", "long/sub03"] and all(len(f) == 1 for f in folds)
    run = dataclasses.replace(cfg, folds=3, out=tmp_path / "out", publish_dir=tmp_path / "engines")
    report = spotter.train(run)
    assert report["val_identities"] == [] and report["train_identities"] == sorted(sum(folds, []))
    assert report["folds"] == folds and report["train_fit"]["micro"][0] > 0
    # every person scored once, by the network of the fold that left them out; the epoch is the best one out of fold
    micro = sum(1 for c in clips for g in c.truth if g.kind == "micro")
    chosen = report["chosen"]
    assert chosen["micro"][0] + chosen["micro"][2] == micro and len(report["history"]) == cfg.epochs
    best = max(report["history"], key=lambda h: spotter.rank(h, cfg.false_budget))
    assert chosen["epoch"] == best["epoch"] and chosen["f1_micro"] == best["f1_micro"] >= 0.5
    meta = json.loads((run.publish_dir / "manifest.json").read_text())["artifacts"]["spotter.onnx"]["meta"]
    assert meta["folds"] == folds and meta["val_identities"] == [] and meta["validation"]["epoch"] == chosen["epoch"]
    for bad, why in (({"folds": 1}, "--folds 1"), ({"folds": 2, "network": run.out / "spotter.pt"}, "not with --folds")):
        with pytest.raises(MexError, match=why):
            spotter.SpotterConfig(truth=cfg.truth, **bad)


def test_folds_spread_photo_and_video_people_alike():
    def clip(identity):
        return spotter.Clip(identity, identity, np.zeros((1, 1)), np.zeros(1, np.int64), np.zeros(1, np.int64), 30.0,
                            np.zeros(0, np.int64), [])

    people = [f"long/sub{i:02d}" for i in range(1, 14, 2)] + [f"long_video/sub{i:02d}" for i in range(2, 15, 2)]
    folds = spotter_cv.deal([clip(p) for p in people for _ in range(2)], 4, seed=0)
    assert sorted(sum(folds, [])) == sorted(people)  # each person once
    for kind in ("long/", "long_video/"):
        sizes = [sum(p.startswith(kind) for p in f) for f in folds]
        assert max(sizes) - min(sizes) <= 1, (kind, folds)
    assert [len(f) for f in folds] == [4, 4, 3, 3] and spotter_cv.deal([clip(p) for p in people], 4, seed=0) == folds
    with pytest.raises(MexError, match="--folds 15: between 2 and the 14 training people"):
        spotter_cv.deal([clip(p) for p in people], 15, seed=0)


def test_keep_mean_publishes_the_runs_averaged_at_the_epoch_their_mean_scores_best(tmp_path, trained):
    import torch

    from mecore.nets import build

    cfg, _, rec = trained
    run = dataclasses.replace(cfg, keep="mean", runs=2, epochs=12, out=tmp_path / "out", publish_dir=tmp_path / "engines")
    report = spotter.train(run)
    chosen = report["chosen"]
    assert len(report["runs"]) == 2 and {r["train_seed"] for r in report["runs"]} == {0, 1}
    assert len(report["history"]) == run.epochs and chosen["members"] == 2
    best = max(report["history"], key=lambda h: spotter.rank(h, run.false_budget))
    assert chosen["epoch"] == best["epoch"] and chosen["micro"] == best["micro"]
    ck = torch.load(run.out / "spotter.pt", weights_only=False)
    assert ck["arch"] == "spotnet_mean" and len(ck["kwargs"]["members"]) == 2
    model = build(ck["arch"], ck["kwargs"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(5, model.features, 40)),
                        dtype=torch.float32)
    with torch.no_grad():  # a softmax of the output is the members' mean probabilities, not one member's
        mean = torch.stack([torch.softmax(m(x), 1) for m in model.members]).mean(0)
        assert torch.allclose(torch.softmax(model(x), 1), mean, atol=1e-5)
        assert not torch.allclose(torch.softmax(model.members[0](x), 1), mean, atol=1e-3)
    meta = json.loads((run.publish_dir / "manifest.json").read_text())["artifacts"]["spotter.onnx"]["meta"]
    assert meta["arch"] == "spotnet_mean" and meta["validation"]["members"] == 2
    clip = next(c for c in spotter.load_clips(run) if c.identity == report["val_identities"][0])
    offline = spotter.decode(clip, spotter.predict(model, [clip], run)[0], chosen["threshold"], chosen["min_frames"],
                             chosen["gap"])
    live, _, _ = spot_replay.replay(rec, StreamConfig(spotter="learned", spotter_model=str(run.publish_dir / "spotter.onnx")))
    assert [(e.onset_frame, e.offset_frame, e.kind) for e in live] == [(i.onset, i.offset, i.kind) for i in offline]
    kept = spotter.train(dataclasses.replace(run, network=run.out / "spotter.pt", out=tmp_path / "kept"))
    assert kept["chosen"]["micro"] == chosen["micro"] and kept["chosen"]["members"] == 2  # an ensemble kept as one
    with pytest.raises(MexError, match="--keep 'median': one of best, mean"):
        spotter.SpotterConfig(truth=cfg.truth, keep="median")
