"""stream.batch: every video analysed and named after its input, a corrupt one reported by name while the
others finish, a rerun after an interruption skips what was done, the summary counts events per label."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from mecore.errors import MexError
from stream import batch
from stream.sources import DEMO_CLIP


@pytest.fixture
def archive(tmp_path) -> Path:
    """demo.mp4 twice (one in a subfolder, same name), a corrupt 'video', and a list file naming one of them."""
    d = tmp_path / "in"
    (d / "day2").mkdir(parents=True)
    shutil.copy(DEMO_CLIP, d / "demo.mp4")
    shutil.copy(DEMO_CLIP, d / "day2" / "demo.mp4")
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    return d


def _rows(out: Path) -> list[dict]:
    return list(csv.DictReader((out / "summary.csv").open()))


def test_a_corrupt_video_among_good_ones(tmp_path, archive, capsys):
    cfg = batch.BatchConfig(out=tmp_path / "out", workers=1, max_frames=75)  # the first event is at ~1.5 s
    with pytest.raises(MexError, match=r"1 of 3 videos failed: .*broken\.mp4"):
        batch.run(cfg, [str(archive)], progress=False)
    assert "broken.mp4" in capsys.readouterr().err
    rows = {r["video"]: r for r in _rows(cfg.out)}
    names = sorted(n for n in rows if n.startswith("demo-"))  # the same stem twice: told apart by a path hash
    assert len(names) == 2 and rows["broken"]["status"] == "failed"
    for n in names:
        assert rows[n]["status"] == "done" and rows[n]["frames"] == "75"
        assert int(rows[n]["events"]) >= 1 and int(rows[n]["surprise"]) >= 1, rows[n]  # demo's first event
        lines = [json.loads(x) for x in (cfg.out / f"{n}.events.jsonl").read_text().splitlines()]
        assert lines[-1]["type"] == "summary" and lines[-1]["engines"]["classifier"]
    assert rows["TOTAL"]["status"] == "2 of 3 ok"
    assert not list(cfg.out.glob("broken*")) and not list(cfg.out.glob("*.tmp*"))  # nothing half-written


def test_resume_after_an_interrupted_run(tmp_path, archive, monkeypatch):
    (archive / "broken.mp4").unlink()
    listing = tmp_path / "videos.txt"
    listing.write_text("# two copies\nin/demo.mp4\nin/day2/demo.mp4\n")
    cfg = batch.BatchConfig(out=tmp_path / "out", workers=1, spot_only=True, max_frames=20, video=True)
    real = batch._run_video
    calls = []

    def interrupted_on_second(cfg_, job, threads):
        calls.append(job.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(cfg_, job, threads)

    monkeypatch.setattr(batch, "_run_video", interrupted_on_second)
    with pytest.raises(KeyboardInterrupt):
        batch.run(cfg, [str(listing)], progress=False)
    first = calls[0]
    assert [r["video"] for r in _rows(cfg.out)] == [first, "TOTAL"]
    done_mtime = (cfg.out / f"{first}.events.jsonl").stat().st_mtime_ns
    assert sorted(p.name for p in cfg.out.iterdir()) == sorted(
        [f"{first}.events.jsonl", f"{first}.mp4", f"{first}.done.json", "summary.csv"])
    calls.clear()
    monkeypatch.setattr(batch, "_run_video", real)
    results = batch.run(cfg, [str(listing)], progress=False)
    assert [r.status for r in results if r.name == first] == ["skipped"]
    assert {r.status for r in results if r.name != first} == {"done"}
    assert (cfg.out / f"{first}.events.jsonl").stat().st_mtime_ns == done_mtime  # not analysed again
    # other engines (or options) than the outputs were made with: analysed again
    monkeypatch.setattr(batch, "engines_record", lambda cfg: {"classifier": "0" * 64})
    assert {r.status for r in batch.run(cfg, [str(listing)], progress=False)} == {"done"}


def test_inputs_and_options_are_checked(tmp_path):
    with pytest.raises(MexError, match="no such file or folder"):
        batch.find_videos([str(tmp_path / "nope")])
    (tmp_path / "l.txt").write_text("missing.mp4\n")
    with pytest.raises(MexError, match=r"l\.txt: line 1: missing\.mp4"):
        batch.find_videos([str(tmp_path / "l.txt")])
    with pytest.raises(MexError, match="no videos"):
        batch.find_videos([str(tmp_path)])
    assert batch.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    with pytest.raises(SystemExit):
        batch.parse_args([str(tmp_path)])  # --out is required


def test_on_ray(tmp_path, archive, ray_local):
    cfg = batch.BatchConfig(out=tmp_path / "out", spot_only=True, max_frames=10, ray="auto")
    with pytest.raises(MexError, match=r"1 of 3 videos failed: .*broken\.mp4"):
        batch.run(cfg, [str(archive)], progress=False)
    assert [r["status"] for r in _rows(cfg.out)] == ["failed", "done", "done", "2 of 3 ok"]


def test_a_damaged_video_is_analysed_and_its_damage_counted(tmp_path):
    import av

    with av.open(str(DEMO_CLIP)) as c:
        where = [p.pos for p in c.demux(video=0) if p.size]
    data = bytearray(DEMO_CLIP.read_bytes())
    data[where[10]:where[10] + 4] = b"\xff\xff\xff\xff"  # packet 10's length field: the decoder refuses it
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "damaged.mp4").write_bytes(bytes(data))
    cfg = batch.BatchConfig(out=tmp_path / "out", workers=1, spot_only=True, max_frames=30)
    batch.run(cfg, [str(tmp_path / "in")], progress=False)
    row, total = _rows(cfg.out)
    assert row["status"] == "done" and row["frames"] == "30" and row["damaged_packets"] == "1"
    assert total["damaged_packets"] == "1"
