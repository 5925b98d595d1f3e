"""bench.face runs end to end on the real video and prints a measured table."""

from __future__ import annotations

import re

from bench import face as bench_face


def test_bench_face_prints_a_table(face_model, face_video, capsys):
    assert bench_face.main(["--video", str(face_video), "--frames", "8", "--model", str(face_model)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.search(r"\d+\.\d+x$", line) and not line.startswith("ratio")]
    assert len(rows) == 2 and rows[1].startswith("640x480")
    for row in rows:
        nums = [float(v) for v in re.findall(r"\d+\.\d+", row)]
        assert nums[0] == 1.0  # one face per frame
        assert all(v > 0 for v in nums[1:])


def test_bench_face_bad_video_is_one_line_error(tmp_path, capsys):
    assert bench_face.main(["--video", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.mp4" in err and err.count("\n") == 1
