#!/usr/bin/env bash
# The learned spotter (--spotter learned) from nothing, on training identities only:
#   1. long clips of the 14 training people (3 each) and of the 8 held-out people (1 each, for evaluation only),
#   2. the analyser's spotting inputs on the training clips, recorded once (bench.spotting --record),
#   3. python -m train.spotter: features, training, the threshold chosen on validation people, engines/spotter.*
#   bash scripts/train_spotter.sh [DIR]     (about 25 min on 2 cores; docs/streaming.md, "Learned spotting")
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.cache/spot-seed0}
REC=.cache/spot-rec-train
PY=.venv/bin/python
export GLOG_minloglevel=2
[ -f "$DIR/identities.json" ] || $PY -m train.synth_me --out "$DIR" --subjects 14 --clips-per-subject 1 \
  --holdout-identities 8 --holdout-clips 1 --train-long 3 --holdout-long 1 --quiet
$PY -m bench.spotting --record "$REC" --truth "$DIR/spot/long" --truth "$DIR/spot/long_video" --no-real --face '' \
  --spotters flow > "$REC.flow.md"
$PY -m train.spotter --record "$REC" --truth "$DIR/spot/long" --truth "$DIR/spot/long_video"
