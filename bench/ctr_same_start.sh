#!/bin/bash
# bench/ctr_same_start.sh — is drec's CTR model the same model as its
# PyTorch version?  Both start from the same weights (drec's initialisation,
# saved with `drec train --epochs 0`) and draw the same batches (drec's
# order, which bench/ctr_torch.py --drec-order reproduces), so any
# difference in the per-epoch training loss and test AUC is a difference in
# the model or its training step, not in the draw of the random numbers.
#
#   bench/ctr_same_start.sh                       # xdeepfm, autoint, deepfm; 10 epochs, seed 1
#   MODELS=xdeepfm EPOCHS=20 SEED=2 bench/ctr_same_start.sh
#
# Frappe, embedding 10, deep layers 400-400-400, batch 4096, Adam lr 0.01,
# dense Adam on the embeddings on both sides (drec: --set lazy=0).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/frappe-nfm}
MODELS=${MODELS:-"xdeepfm autoint deepfm"}
EPOCHS=${EPOCHS:-10}
SEED=${SEED:-1}
THREADS=${THREADS:-2}
DREC=${DREC:-build/drec}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
HP=(--dim 10 --layers 400,400,400 --batch 4096 --lr 0.01 --threads "$THREADS" --seed "$SEED" --set lazy=0)

for m in $MODELS; do
    echo "== $m ($EPOCHS epochs, seed $SEED)" >&2
    $DREC train --model "$m" --data "ctr:$DATA/frappe.validation.libfm" "${HP[@]}" --epochs 0 --out "$OUT/$m.init" \
        >/dev/null 2>&1
    $DREC train --model "$m" --data "ctr:$DATA/frappe.validation.libfm" --test "ctr:$DATA/frappe.test.libfm" \
        "${HP[@]}" --epochs "$EPOCHS" --json >"$OUT/drec_$m.json" 2>/dev/null
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/ctr_torch.py --model "$m" \
        --train "$DATA/frappe.validation.libfm" --test "$DATA/frappe.test.libfm" --lr 0.01 --epochs "$EPOCHS" \
        --threads "$THREADS" --seed "$SEED" --from-drec "$OUT/$m.init" --drec-order >"$OUT/torch_$m.json" 2>/dev/null
done

MODELS="$MODELS" OUT="$OUT" /usr/bin/python3 - <<'EOF'
import json, os
out = os.environ['OUT']
for m in os.environ['MODELS'].split():
    d, t = json.load(open(f'{out}/drec_{m}.json')), json.load(open(f'{out}/torch_{m}.json'))
    dl, da, tl, ta = d['loss_curve'], d['val_curve'], t['loss_curve'], t['auc_curve']
    print(f'{m}: epoch, training loss drec / torch, test AUC drec / torch')
    for e in range(len(dl)):
        print(f'  {e + 1:3d}  {dl[e]:.4f} / {tl[e]:.4f}   {da[e]:.4f} / {ta[e]:.4f}')
    print(f'  largest gap: loss {max(abs(a - b) for a, b in zip(dl, tl)):.4f}, '
          f'AUC {max(abs(a - b) for a, b in zip(da, ta)):.4f}; best AUC drec {max(da):.4f}, torch {max(ta):.4f}')
EOF
