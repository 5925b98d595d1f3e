#!/usr/bin/env bash
# The learned spotter (--spotter learned) from nothing, on training identities only:
#   1. long clips of the 14 training people (6 each, and 4 event-free ones each), of the 3 more real-video people a
#      20-person draw adds (6 each, trained on only) and of the 8 held-out people (1 each, for evaluation only),
#   2. the analyser's spotting inputs on the training clips and the real clips, recorded once (bench.spotting),
#   3. python -m train.spotter: features, 4 training runs averaged (--keep mean), epoch and decoder chosen on validation people
#      (and on event-free real footage and the validation people's event-free clips; the training people's are trained
#      on, every frame none), engines/spotter.*
#   bash scripts/train_spotter.sh [DIR]     (about 2.7 h on 2 cores: generation 57, recording 50, training 50;
#                                            docs/streaming.md, "Learned spotting")
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.cache/spot-seed0}
REC=.cache/spot-rec-train
PY=.venv/bin/python
export GLOG_minloglevel=2
[ -f "$DIR/identities.json" ] || $PY -m train.synth_me --out "$DIR" --subjects 14 --clips-per-subject 1 \
  --holdout-identities 8 --holdout-clips 1 --train-long 6 --holdout-long 1 --train-free 4 --quiet
# the real-video people a 20-person draw adds (3 with the default faces; the held-out 8 are the same people): their
# clips are only trained on (train.spotter --train-only), so each --seed keeps the validation people it kept before;
# its identities.json names them training people, so their own footage is mixed in as the others' is
MORE="$DIR-more"
[ -f "$MORE/identities.json" ] || $PY -m train.synth_me --out "$MORE" --subjects 20 --clips-per-subject 1 \
  --holdout-identities 8 --holdout-clips 1 --train-long 6 --train-long-kind video --train-long-after 14 --quiet
# real footage without micro-expressions (../shared, by path): the chosen decoder must stay quiet on it too;
# train.spotter leaves out the held-out people's clips among it
SHARED=${MEX_SHARED:-../shared}
REAL=(--no-real --face '')
FREE=()
if [ -d "$SHARED/media/real" ]; then
  FACE=''
  [ -f "$SHARED/media/face.mp4" ] && FACE="$SHARED/media/face.mp4"
  REAL=(--real "$SHARED/media/real" --face "$FACE")
  FREE=(--event-free "$SHARED/media/real" --identities "$MORE/identities.json")
  [ -n "$FACE" ] && FREE+=(--event-free "$FACE")
fi
$PY -m bench.spotting --record "$REC" --truth "$DIR/spot/long" --truth "$DIR/spot/long_video" \
  --truth "$MORE/spot/long_video" --truth "$DIR/spot/free" --truth "$DIR/spot/free_video" "${REAL[@]}" \
  --spotters flow > "$REC.flow.md"
$PY -m train.spotter --record "$REC" --truth "$DIR/spot/long" --truth "$DIR/spot/long_video" \
  --train-only "$MORE/spot/long_video" --free "$DIR/spot/free" --free "$DIR/spot/free_video" --train-on-free \
  "${FREE[@]}"
