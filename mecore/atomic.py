"""Write outputs atomically (temp file in the same folder + rename) so a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def new_file_mode() -> int:
    """The mode any new file gets (0666 less the umask): mkstemp's 0600 would hide outputs from other users."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it.

    The temp name keeps the real suffix so writers that pick a format by extension (PyAV, PNG) work.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix or final.suffix, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, new_file_mode())
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def refuse_overwrite(output: str | os.PathLike, *inputs: str | os.PathLike) -> None:
    """Raise when an output path is one of the inputs: never overwrite a user's input."""
    from mecore.errors import MexError

    out = Path(output).resolve()
    for inp in inputs:
        if inp is not None and Path(inp).exists() and Path(inp).resolve() == out:
            raise MexError(f"{output}: output would overwrite the input; choose another path")


def check_outputs(*outputs: str | os.PathLike | None, inputs: tuple = ()) -> None:
    """Before any work: refuse outputs that would overwrite an input or each other, or that cannot be written
    where they are asked for (a folder that cannot be made or written to), so a long run never fails at its end."""
    from mecore.errors import MexError

    seen: dict[Path, str] = {}
    for output in outputs:
        if output is None:
            continue
        refuse_overwrite(output, *inputs)
        final = Path(output).resolve()
        if final in seen:
            raise MexError(f"{output}: the same file for two outputs; give each its own path")
        seen[final] = str(output)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            blocker = next((p for p in final.parents if p.exists()), None)
            why = f"{blocker} is not a folder" if blocker is not None and not blocker.is_dir() else e.strerror or e
            raise MexError(f"{output}: cannot write there ({why})") from None
