"""Sources on real files: every frame in order, folders, pacing, masked URLs, bad input named in one line."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from mecore.errors import MexError
from stream.readers import AVReader
from stream.sources import TRANSITIONS, State, VideoSource, mask_url, open_source


def _write_clip(path, n=20, size=(64, 48), fps=25, faststart=False):
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            img = np.full((size[1], size[0], 3), (i * 10) % 256, np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    return path


def test_mask_url():
    assert mask_url("rtsp://admin:s3cr3t@10.0.0.2:554/live") == "rtsp://admin:***@10.0.0.2:554/live"
    assert mask_url("error opening rtsp://u:p@h/x and http://a:b@c/d") == "error opening rtsp://u:***@h/x and http://a:***@c/d"
    assert mask_url("http://cam/stream?user=a&password=hunter2&x=1") == "http://cam/stream?user=a&password=***&x=1"
    assert mask_url("rtsp://host/live") == "rtsp://host/live"
    assert mask_url("/videos/clip.mp4") == "/videos/clip.mp4"


def test_file_gives_every_frame_and_ends(tmp_path):
    clip = _write_clip(tmp_path / "c.mp4", n=20, fps=25)
    with open_source(str(clip)) as src:
        assert src.kind == "file" and not src.live and src.fps == 25
        frames = list(src)
        assert src.state == State.ENDED
    assert [f.index for f in frames] == list(range(20))
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert frames[5].timestamp_s == pytest.approx(5 / 25)
    assert src.state == State.CLOSED and src.stats.frames == 20 and src.stats.dropped == 0


def test_image_folder_in_natural_order(tmp_path):
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"img{i}.jpg"), np.full((24, 32, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(str(tmp_path), fps=200) as src:
        frames = list(src)
    assert src.kind == "folder" and src.fps == 200
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert frames[2].timestamp_s == pytest.approx(2 / 200)


def test_bad_inputs_name_the_source(tmp_path):
    with pytest.raises(MexError, match="no_such.mp4: no such file"):
        open_source(str(tmp_path / "no_such.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 500)
    with pytest.raises(MexError, match="junk.mp4: cannot open"):
        open_source(str(junk)).open()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MexError, match="no images"):
        open_source(str(empty)).open()
    with pytest.raises(MexError, match="unsupported URL scheme"):
        open_source("ftp://user:pw@host/x.mp4")
    with pytest.raises(MexError) as err:
        open_source("rtsp://admin:topsecret@127.0.0.1:9/nothing", open_timeout_s=2).open()
    assert "topsecret" not in str(err.value) and "admin:***@" in str(err.value)


def test_truncated_file_is_reported_after_its_frames(tmp_path):
    clip = _write_clip(tmp_path / "c.mp4", n=60, size=(160, 120), faststart=True)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    src = open_source(str(cut)).open()
    got = []
    with pytest.raises(MexError, match="cut.mp4: .*truncated"):
        for f in src:
            got.append(f.index)
    assert 0 < len(got) < 60  # the frames before the damage were delivered
    src.close()


def _damaged(clip, out, packets):
    """``clip`` with the length field of each of ``packets`` (indices) overwritten: the decoder refuses those."""
    with av.open(str(clip)) as c:
        where = [p.pos for p in c.demux(video=0) if p.size]
    data = bytearray(clip.read_bytes())
    for i in packets:
        data[where[i]:where[i] + 4] = b"\xff\xff\xff\xff"
    out.write_bytes(bytes(data))
    return out


def _noise_clip(path, n=60):
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(n):  # noise: every packet is large, so a damaged one fails to decode
            img = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    return path


def test_a_damaged_packet_is_skipped_not_the_rest_of_the_file(tmp_path, caplog):
    bad = _damaged(_noise_clip(tmp_path / "c.mp4"), tmp_path / "bad.mp4", [30])
    with av.open(str(bad)) as c, pytest.raises(av.error.InvalidDataError):
        for _ in c.decode(video=0):  # what the reader did before: the file ended at the damage
            pass
    with caplog.at_level("WARNING", logger="stream"), open_source(str(bad)) as src:
        frames = list(src)
        assert src.state == State.ENDED and src.stats.damaged == 1
    assert len(frames) == 59
    assert [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()] == [
        f"{bad}: 1 damaged packet(s) skipped, after frame(s) {src._reader.damaged_after[0]}: frames there are missing "
        "or show decoding damage"]
    caplog.clear()
    live = AVReader(str(bad), live=True, transport="tcp", open_timeout=5, read_timeout=5)  # as a camera's stream reads
    live.open()
    assert len(list(live.frames())) == 59  # no Lost: a damaged packet is not a reason to reconnect
    live.close()
    assert [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()] == [
        f"{bad}: 1 damaged packet(s) skipped so far, the last after frame {live.damaged_after[0]}"]


def test_a_file_damaged_throughout_is_an_error(tmp_path):
    bad = _damaged(_noise_clip(tmp_path / "c.mp4"), tmp_path / "bad.mp4", range(10, 60))
    got = []
    with pytest.raises(MexError, match="bad.mp4: corrupt or truncated video after frame"), open_source(str(bad)) as src:
        got.extend(f.index for f in src)
    assert 5 < len(got) <= 10


def test_state_machine_is_explicit(tmp_path):
    # a lost stream reconnects through CONNECTING (never straight to RUNNING), or gives up, or is closed
    assert TRANSITIONS[State.RECONNECTING] == {State.CONNECTING, State.FAILED, State.CLOSED}
    assert TRANSITIONS[State.CLOSED] == set()
    src = VideoSource(str(_write_clip(tmp_path / "c.mp4", n=3)))
    assert src.state == State.IDLE
    with pytest.raises(RuntimeError, match="not allowed"):
        src._to(State.ENDED)
    src.close()
    assert src.state == State.CLOSED


def test_phone_portrait_video_is_read_upright(tmp_path, turned_mp4, face_video):
    # An iPhone stores portrait video turned a quarter and says so in the container; the analyser, its overlay
    # and the annotated and magnified videos must show the face the way up it was filmed.
    with av.open(str(face_video)) as c:
        upright = [f.to_ndarray(format="rgb24") for _, f in zip(range(6), c.decode(video=0))]
    clip = turned_mp4(tmp_path / "IMG_0001.mp4", upright, 30.0, -90)
    with open_source(str(clip)) as src:
        frames = list(src)
    assert len(frames) == 6
    h, w = upright[0].shape[:2]
    for got, want in zip(frames, upright):
        assert got.image.shape == (h - h % 2, w - w % 2, 3)
        diff = np.abs(got.image.astype(int) - want[:h - h % 2, :w - w % 2].astype(int)).mean()
        assert diff < 4.0  # the same picture up to the encoder's loss (turned the wrong way: ~40)
