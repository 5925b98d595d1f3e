"""bench.face runs end to end on the real video and prints a measured table."""

from __future__ import annotations

import re

from bench import face as bench_face


def test_bench_face_prints_a_table(face_model, face_video, capsys):
    assert bench_face.main(["--video", str(face_video), "--frames", "8", "--model", str(face_model), "--real", ""]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.search(r"\d+\.\d+x$", line) and not line.startswith("ratio")]
    assert len(rows) == 2 and rows[1].startswith("640x480")
    for row in rows:
        nums = [float(v) for v in re.findall(r"\d+\.\d+", row)]
        assert nums[0] == 1.0  # one face per frame
        assert all(v > 0 for v in nums[1:])


def test_faces_found_table_on_a_folder_of_clips(face_video, tmp_path, capsys):
    """The real-clips table on a folder holding one 30-frame clip of the real face: found on every frame."""
    frames, _ = bench_face.decode(face_video, 30)
    bench_face.encode(frames, tmp_path / "b_face.mp4")
    assert bench_face.main(["--no-timing", "--real", str(tmp_path)]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("b_face.mp4")]
    cells = row.split()
    assert cells[2] == "30" and cells[3] == cells[4] == "100.0%" and cells[5] == "1.00" and cells[-1] == "ok"


def test_bench_face_bad_video_is_one_line_error(tmp_path, capsys):
    assert bench_face.main(["--video", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.mp4" in err and err.count("\n") == 1
