"""The demo's Video and Camera URL work: a whole file through the Analyzer with the project's sinks,
and a live URL opened with the project's sources. Nothing here tracks or spots: that is the Analyzer's.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mecore.errors import MexError
from stream.app_session import EventLog, PageSettings

log = logging.getLogger("stream.app")

Progress = Callable[[int, int, str], None]


@dataclass
class VideoOutput:
    video: str | None
    table: pd.DataFrame
    plot: object | None  # a matplotlib Figure
    jsonl: str | None
    status: str
    warning: str = ""


def analyse_file(path: Path, workdir: Path, make_analyzer: Callable[[float], tuple[object, str]],
                 controls: PageSettings, progress: Progress | None = None) -> VideoOutput:
    """Every frame of ``path`` through a fresh Analyzer; annotated mp4 + events.jsonl in ``workdir``."""
    from stream import sinks, sources
    from stream.runner import Runner

    name = Path(path).name
    source = sources.open_source(str(path))
    try:
        source.open()  # MexError naming the file when it is not a readable video
    except MexError as e:
        # the user knows the file by its own name, not the server's upload path; errno noise dropped
        raise MexError(re.sub(r"\[Errno -?\d+\] ", "", str(e)).replace(str(path), name)) from None
    analyzer = None
    try:
        fps = float(source.fps or 30.0)
        total = int(getattr(source._reader, "expected", 0) or 0)  # 0: the container does not say
        analyzer, note = make_analyzer(fps)
        if controls.amplification is not None:
            analyzer.set_amplification(controls.amplification)
        stem = Path(name).stem or "video"
        video_out, jsonl_out = workdir / f"{stem}.annotated.mp4", workdir / f"{stem}.events.jsonl"
        events_log = EventLog(classify=bool(analyzer.config.classify))
        signals: dict[int, list] = defaultdict(list)

        def keep_signals(result) -> None:
            for face_id, sig in result.signals.items():
                signals[face_id].append(sig)

        def report(done: int, result) -> None:
            if progress is None:
                return
            if result is None:
                progress(done, max(total, done), "classifying the last events")
            elif done % 5 == 0 or done == total:
                progress(done, max(total, done), f"frame {done}" + (f" of {total}" if total else ""))

        runner = Runner(analyzer, [sinks.VideoFile(video_out, fps), sinks.EventsFile(jsonl_out), events_log,
                                   keep_signals], progress=report, source_name=name)
        runner.run(source)
        if runner.error is not None:
            raise runner.error
        summary = runner.summary
    finally:
        if analyzer is not None:
            analyzer.close()
        source.close()
    frames, faces_seen = summary.frames, summary.frames_with_face
    if frames == 0:
        raise MexError(f"{name}: no video frames could be decoded")
    warning = "" if faces_seen else f"{name}: no face found in any of its {frames} frames"
    status = (f"{name}: {frames} frames at {fps:.1f} fps, a face in {faces_seen}, "
              f"{len(events_log)} event(s), backend {analyzer.backend}")
    if note:
        status += f"  \n{note}"
    if warning:
        status = f"⚠️ {warning}  \n{status}"
    table = events_log.frame()
    return VideoOutput(str(video_out), table, timeline(signals, table, fps, name), str(jsonl_out), status, warning)


def timeline(signals: dict[int, list], events: pd.DataFrame, fps: float, title: str = ""):
    """Each face's spotting signal over time, its threshold, and the spotted intervals. The signal is the running
    spotter's: p(event) for the learned one, the largest region flow over its threshold for flow, the contrast C
    for the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    colours = ["tab:green", "tab:blue", "tab:orange", "tab:purple"]
    for face_id, points in sorted(signals.items()):
        if not points:
            continue
        c = colours[face_id % len(colours)]
        t = [p.frame / fps for p in points]
        ax.plot(t, [p.contrast for p in points], color=c, lw=1.2, label=f"face {face_id} signal")
        ax.plot(t, [p.threshold for p in points], color=c, lw=0.8, ls="--", label=f"face {face_id} threshold")
    for row in events.to_dict("records"):
        ax.axvspan(row["onset s"], row["offset s"], color="tab:red", alpha=0.2, lw=0)
        ax.annotate(str(row["label"]), (row["apex s"], 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=8, color="tab:red")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("spotting signal")
    ax.set_title(f"{title}: spotting signal and events" if title else "spotting signal and events", fontsize=10)
    if signals:
        ax.legend(loc="upper right", fontsize=7, ncols=2)
    ax.grid(alpha=0.3)
    return fig


def open_live(url: str):
    """Open a camera URL with the project's live source; returns (frames iterable, masked name, fps)."""
    from stream import sources

    source = sources.open_source(url, open_timeout_s=8.0, read_timeout_s=5.0, max_reconnects=3)
    try:
        source.open()  # MexError naming the (masked) URL when it cannot be reached
    except MexError as e:
        raise MexError(re.sub(r"\[Errno -?\d+\] ", "", str(e))) from None
    return source, source.name, float(source.fps or 25.0)
