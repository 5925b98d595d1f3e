"""train.magnet: synthetic data, training (loss goes down, checkpoint + resume), EVM, eval/import CLIs, ONNX parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from engines import ENGINES_DIR
from engines.artifacts import load_checkpoint, onnx_meta
from mecore.nets import build
from mecore.nets.magnet import MagNet, convert_reference_state_dict
from train.magnet.__main__ import main
from train.magnet.data import Synth, SynthConfig, held_out_set
from train.magnet.evaluate import collapse, evm_magnify, laplacian_pyramid
from train.magnet.export import export_magnet_onnx, parity
from train.magnet.importer import load_magnet, magnifier_meta
from train.magnet.train import LossModule, TrainConfig, train

# Small tensors: one thread is faster and immune to OpenMP barrier stalls on a busy machine.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def bank32():
    from train.magnet.data import load_texture_bank

    return load_texture_bank(64)


def test_synthetic_batches_are_seeded_and_well_formed(bank32):
    cfg = SynthConfig(size=32)
    b1 = Synth(cfg, seed=3, bank=bank32).batch(6)
    b2 = Synth(cfg, seed=3, bank=bank32).batch(6)
    b3 = Synth(cfg, seed=4, bank=bank32).batch(6)
    assert all(torch.equal(b1[k], b2[k]) for k in b1)
    assert not torch.equal(b1["A"], b3["A"])
    for k in "ABCY":
        assert b1[k].shape == (6, 3, 32, 32) and b1[k].min() >= -1 and b1[k].max() <= 1
        levels = (b1[k] + 1) * 127.5  # 8-bit quantised
        assert torch.allclose(levels, levels.round(), atol=1e-3)
    assert ((b1["amp"] >= 1) & (b1["amp"] <= 100)).all()
    # the object moved between A and C (sub-pixel, so small but present), and more so in Y
    d_ac = (b1["C"] - b1["A"]).abs().mean()
    d_ay = (b1["Y"] - b1["A"]).abs().mean()
    assert d_ay > d_ac > 0


def test_motion_is_magnified_in_ground_truth(bank32):
    """Without noise, colour change or blur, Y - A grows with alpha for the same delta direction."""
    cfg = SynthConfig(size=32, alpha_min=20, alpha_max=20, motion_min=0.5, motion_max=0.5, read_noise_max=0,
                      shot_noise_max=0, color_perturb_p=0, blur_p=0, bg_motion_p=0)
    b = Synth(cfg, seed=0, bank=bank32).batch(4)
    assert torch.allclose(b["B"], b["C"], atol=1e-6)
    assert (b["Y"] - b["A"]).abs().mean() > 3 * (b["B"] - b["A"]).abs().mean()


def test_test_set_is_fixed():
    t1, t2 = held_out_set(n=3, size=32), held_out_set(n=3, size=32)
    assert torch.equal(t1["Y"], t2["Y"]) and t1["A"].shape == (3, 3, 32, 32)


def test_training_lowers_the_loss(bank32):
    torch.manual_seed(0)
    model = MagNet()
    loss_fn = LossModule(model, 0.1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    b = Synth(SynthConfig(size=32, alpha_max=10), seed=1, bank=bank32).batch(4)
    losses = []
    for _ in range(20):
        loss, main_l1, _ = loss_fn(b["A"], b["B"], b["C"], b["Y"], b["amp"])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(main_l1.item())
    assert np.mean(losses[-3:]) < 0.75 * losses[0], losses


def test_train_loop_checkpoints_and_resumes(tmp_path):
    cfg = TrainConfig(out=tmp_path, steps=2, batch=2, size=32, ckpt_every=1, eval_every=1, device="cpu")
    last = train(cfg, progress_bar=False)
    state = torch.load(last, weights_only=False)
    assert state["step"] == 2 and len(state["history"]) == 2
    assert {"val_psnr", "loss", "samples_per_s"} <= set(state["history"][0])
    cfg2 = TrainConfig(out=tmp_path, steps=3, batch=2, size=32, ckpt_every=1, eval_every=1, device="cpu", resume=True)
    state2 = torch.load(train(cfg2, progress_bar=False), weights_only=False)
    assert state2["step"] == 3 and len(state2["history"]) == 3
    # a run checkpoint loads as a MagNet
    assert isinstance(load_magnet(last), MagNet)


def test_train_cli_rejects_bad_options(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--size", "30", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith("error: crop size 30")
    assert main(["train", "--out", str(tmp_path / "none"), "--resume", "--device", "cpu", "--quiet"]) == 2
    assert "no checkpoint to resume" in capsys.readouterr().err


def test_evm_pyramid_and_identity():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(collapse(laplacian_pyramid(x, 3)), x, atol=1e-5)
    a = torch.rand(2, 3, 64, 64) * 1.8 - 0.9
    b = (a + 0.02).clamp(-1, 1)
    assert torch.allclose(evm_magnify(a, b, torch.tensor([1.0, 1.0]), 16.0), b, atol=1e-5)
    # linear magnification of a uniform change: (alpha - 1) more of it, when nothing is attenuated
    out = evm_magnify(a * 0, a * 0 + 0.01, torch.tensor([5.0, 5.0]), None)
    assert torch.allclose(out, torch.full_like(out, 0.05), atol=1e-4)


def test_onnx_export_parity_dynamic_shapes(tmp_path):
    model = load_magnet(ENGINES_DIR / "magnifier.pt")
    path = export_magnet_onnx(model, tmp_path / "m.onnx", magnifier_meta("test", "test"))
    graph = onnx.load(str(path))
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input}
    assert dims["onset"] == ["N", 3, "H", "W"] and dims["amplification"] == ["N"]
    assert parity(model, path, sizes=((2, 64, 64), (1, 48, 96))) <= 1e-4


def test_published_magnifier_matches_its_checkpoint():
    """engines/magnifier.onnx and magnifier.pt are the same network, with the metadata stream/ needs."""
    onnx_path, pt_path = ENGINES_DIR / "magnifier.onnx", ENGINES_DIR / "magnifier.pt"
    meta = onnx_meta(onnx_path.read_bytes(), onnx_path)
    assert meta["model"] == "magnifier" and meta["amplification"]["max"] == 100.0
    assert [i["name"] for i in meta["inputs"]] == ["onset", "apex", "amplification"]
    ckpt = load_checkpoint(pt_path.read_bytes(), pt_path)
    model = build(ckpt["arch"], ckpt["kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    assert parity(model.eval(), onnx_path, sizes=((1, 64, 64),)) <= 1e-4


def test_motion_cli_derives_the_classifiers_cut_of_the_published_magnifier(tmp_path, capsys):
    """``train.magnet motion``: motion.{onnx,pt} whose output is the magnifier's shape(alpha) - shape(1)."""
    assert main(["motion", "--checkpoint", str(ENGINES_DIR / "magnifier.pt"), "--engines-dir", str(tmp_path)]) == 0
    assert "motion.onnx" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "manifest.json").read_text())["artifacts"]
    assert sorted(manifest) == ["motion.onnx", "motion.pt"]
    meta = manifest["motion.onnx"]["meta"]
    assert meta["model"] == "motion" and [o["name"] for o in meta["outputs"]] == ["motion"]
    assert meta["derived_from"]["model"] == "magnifier"
    # the published one in engines/ is the same network: same weights hash
    published = json.loads((ENGINES_DIR / "manifest.json").read_text())["artifacts"]["motion.onnx"]["meta"]
    assert published["derived_from"]["weights_sha256"] == meta["derived_from"]["weights_sha256"]
    magnet = load_magnet(ENGINES_DIR / "magnifier.pt")
    g = torch.Generator().manual_seed(5)
    a = torch.rand(2, 3, 64, 96, generator=g) * 2 - 1
    b = (a + 0.05 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    amp = torch.tensor([3.0, 12.0])
    with torch.no_grad():
        want = (magnet(a, b, amp)[1] - magnet(a, b, torch.ones(2))[1]).numpy()
    sess = ort.InferenceSession(str(tmp_path / "motion.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"onset": a.numpy(), "apex": b.numpy(), "amplification": amp.numpy()})
    assert np.abs(want).max() > 1e-3 and np.abs(got - want).max() <= 1e-4
    assert main(["motion", "--checkpoint", str(tmp_path / "missing.pt"), "--engines-dir", str(tmp_path)]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_import_round_trip(magnet_reference, tmp_path, capsys):
    out = tmp_path / "imported.pt"
    assert main(["import", "--weights", str(magnet_reference), "--out", str(out)]) == 0
    ckpt = load_checkpoint(out.read_bytes(), out)
    assert ckpt["arch"] == "magnet" and ckpt["meta"]["model"] == "magnifier"
    assert ckpt["meta"]["parameters"] == 918_928
    ref = convert_reference_state_dict(torch.load(magnet_reference, weights_only=True))
    assert ref.keys() == ckpt["state_dict"].keys()
    assert all(torch.equal(ref[k], ckpt["state_dict"][k]) for k in ref)
    # never overwrite the input; a file that is not MagNet weights is one clear line
    assert main(["import", "--weights", str(out), "--out", str(out)]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert main(["import", "--weights", str(junk), "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(junk) in err and err.count("\n") == 1
    torch.save({"foo.weight": torch.zeros(3)}, junk)
    assert main(["import", "--weights", str(junk), "--out", str(tmp_path / "x.pt")]) == 2
    assert "not MagNet weights" in capsys.readouterr().err


def test_eval_cli_table_and_strip(tmp_path, capsys, face_video):
    strip = tmp_path / "strip.png"
    out_json = tmp_path / "eval.json"
    code = main(["eval", "--weights", str(ENGINES_DIR / "magnifier.pt"), "--n", "4", "--size", "32", "--json",
                 "--strip", str(strip), "--video", str(face_video), "--out-json", str(out_json)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    names = [r["method"] for r in result["rows"]]
    assert names[0].startswith("no magnification") and names[1].startswith("linear EVM")
    # the shipped fast magnifier is evaluated beside the weights under test
    assert names[2].startswith("project-trained") and names[3].startswith("fast magnifier") and len(names) == 4
    assert all(np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 for r in result["rows"])
    assert json.loads(out_json.read_text())["rows"] == result["rows"]
    import cv2

    img = cv2.imread(str(strip))
    assert img is not None and img.shape[1] == 5 * 256
    assert not list(Path(tmp_path).glob(".strip.png*"))  # written atomically, no temp left behind


def test_psnr_is_one_function_for_training_and_evaluation():
    import torch

    from train.magnet import evaluate
    from train.magnet import train as train_mod

    assert train_mod.psnr is evaluate.psnr
    x = torch.zeros(2, 3, 8, 8)
    y = torch.full((2, 3, 8, 8), 0.2)  # MSE 0.04 on a peak-to-peak of 2: 10 log10(4 / 0.04) = 20 dB
    assert evaluate.psnr(x, y).tolist() == pytest.approx([20.0, 20.0])
