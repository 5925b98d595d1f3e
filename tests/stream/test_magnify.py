"""``python -m stream.magnify``: real PyAV clips in and out, the shipped magnifier split through ONNX Runtime."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from stream.magnify import main
from tests.mecore.test_magnify import psnr, shifted, texture

FPS = 30


def write_clip(path: Path, frames: list[np.ndarray], audio: bool = False) -> Path:
    import av

    with av.open(str(path), mode="w") as c:
        vs = c.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": "10"}
        aus = c.add_stream("aac", rate=16000) if audio else None
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        if aus is not None:
            n = int(16000 * len(frames) / FPS)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype(np.float32)[None]
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[:, start:start + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 16000, start, Fraction(1, 16000)
                for p in aus.encode(af):
                    c.mux(p)
            for p in aus.encode(None):
                c.mux(p)
    return path


def read_clip(path: Path) -> tuple[list[np.ndarray], bool]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)], bool(c.streams.audio)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    img = texture(64, 96, seed=5)
    frames = [shifted(img, 0.3 * np.sin(2 * np.pi * 1.5 * i / FPS)) for i in range(12)]
    return write_clip(tmp_path_factory.mktemp("clip") / "in.mp4", frames, audio=True)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("method", ["magnet", "fast", "fast-int8"])
def test_static_alpha_1_round_trip_keeps_audio(clip, tmp_path, method):
    out = tmp_path / "out.mp4"
    assert main([str(clip), "--out", str(out), "--alpha", "1", "--quiet", "--threads", "2",
                 "--crf", "0", "--method", method]) == 0
    got, audio = read_clip(out)
    ref, _ = read_clip(clip)
    assert len(got) == len(ref) and audio
    assert min(psnr(g, r) for g, r in zip(got, ref)) >= 35.0
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temp files left


def test_side_by_side_temporal_and_evm_colour(clip, tmp_path):
    out = tmp_path / "sbs.mp4"
    assert main([str(clip), "--out", str(out), "--mode", "temporal", "--band", "1", "2", "--alpha", "10",
                 "--side-by-side", "--quiet", "--threads", "2", "--tile", "64", "--overlap", "16"]) == 0
    got, _ = read_clip(out)
    assert got[0].shape == (64, 192, 3)
    out2 = tmp_path / "evm.mp4"
    assert main([str(clip), "--out", str(out2), "--method", "evm-colour", "--alpha", "50",
                 "--band", "0.83", "1.0", "--quiet"]) == 0
    assert len(read_clip(out2)[0]) == 12


def test_corrupt_input_gives_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    out = tmp_path / "o.mp4"
    assert main([str(bad), "--out", str(out), "--quiet"]) == 2
    assert "bad.mp4" in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("band", [("3", "1"), ("1", "20")])
def test_bad_band_gives_one_line(clip, tmp_path, capsys, band):
    out = tmp_path / "o.mp4"
    assert main([str(clip), "--out", str(out), "--mode", "temporal", "--band", *band, "--quiet"]) == 2
    assert "band" in one_error_line(capsys)
    assert not out.exists()


def test_failure_midway_leaves_no_output(tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    img = texture(32, 32, seed=6).astype(np.uint8)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    (folder / "004.png").write_bytes(b"not a png")
    out = tmp_path / "out" / "o.mp4"
    assert main([str(folder), "--out", str(out), "--method", "evm-motion", "--alpha", "5", "--band", "1", "3",
                 "--filter", "iir", "--quiet"]) == 2
    assert "004.png" in one_error_line(capsys)
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())  # no temp file left behind


def test_refuses_to_overwrite_the_input(clip, capsys):
    assert main([str(clip), "--out", str(clip), "--quiet"]) == 2
    assert "overwrite" in one_error_line(capsys)


def test_face_mode_changes_only_the_face(face_video, face_model, tmp_path):
    out = tmp_path / "face.mp4"
    assert main([str(face_video), "--out", str(out), "--face", "--alpha", "20", "--max-frames", "6",
                 "--quiet", "--threads", "2", "--crf", "0"]) == 0
    got, audio = read_clip(out)
    ref, _ = read_clip(face_video)
    assert len(got) == 6 and audio
    diff = np.abs(got[5].astype(np.int16) - ref[5].astype(np.int16)).max(-1)
    h, w = diff.shape
    assert diff[: h // 10].mean() < 1.5  # above the face: untouched (1 grey level is the codec's rounding)
    assert diff[h // 3: 2 * h // 3, w // 3: 2 * w // 3].mean() > 2 * diff[: h // 10].mean()  # the face moved


def test_sigterm_midway_leaves_no_output_and_no_temp_folder(tmp_path):
    """A real ``python -m stream.magnify`` subprocess, SIGTERMed once its temporary folder exists."""
    import os
    import signal
    import subprocess
    import sys
    import time

    img = texture(64, 96, seed=7)
    src = write_clip(tmp_path / "long.mp4", [shifted(img, 0.2 * (i % 7)) for i in range(900)])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "o.mp4"
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "stream.magnify", str(src), "--out", str(out), "--method",
                             "evm-motion", "--band", "1", "3", "--filter", "iir", "--quiet"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out_dir.glob(".magnify-*")):  # the writer is open: frames are being magnified
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no temporary folder within 120 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines() == ["error: interrupted, nothing written"]
    assert not list(out_dir.iterdir())  # neither the output nor a .magnify-* folder
