#!/usr/bin/env bash
# One command for a CUDA machine that has torch but not this project's other packages: the three benchmarks
# on the GPU (about a minute), then the default 256 px recipe trained from the shipped checkpoint for a fixed
# wall-clock budget, exported as fp16 weights with their JSON record.
#
#   bash benchmarks/gpu_run.sh OUT_DIR [MINUTES]        # MINUTES of training, default 7
#   DEVICE=cpu SMOKE=1 bash benchmarks/gpu_run.sh /tmp/gpu_smoke 0.5   # the same steps, tiny, on a CPU
#
# Packages: PyYAML, tqdm and tensorboard, where missing, are installed from wheels in .whl/ beside this
# repository (pip download them on a machine with a registry); smplx is not needed (the open body's path
# never imports it). The training path imports neither OpenCV nor mediapipe; the prediction benchmark needs
# mediapipe and is skipped without.
# The exported checkpoint (about 23 MB in fp16) is also written in parts of at most 15 MB
# (straps_open_body.pt.part-aa, -ab, ...) for transfers that limit file sizes; `cat` joins them.
set -euo pipefail
OUT=${1:?usage: bash benchmarks/gpu_run.sh OUT_DIR [MINUTES]}
MINUTES=${2:-7}
DEVICE=${DEVICE:-cuda}
SMOKE=${SMOKE:-0}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

missing=$(python3 - <<'PY'
import importlib.util
print(" ".join(m for m in ("yaml", "tqdm", "tensorboard") if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
    echo "installing from .whl/: $missing"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/straps_site .whl/*.whl
    export PYTHONPATH=/tmp/straps_site${PYTHONPATH:+:$PYTHONPATH}
fi

if [ "$SMOKE" = 1 ]; then
    RENDER_BATCHES="1 4"; TRAIN_BATCHES=4; TRAIN_ITERS=1
    RECIPE=(train.batch_size=4 data.samples_per_epoch=8 data.val_samples=8 proxy_rep.img_wh=64
            camera.render_wh=64 camera.focal_length=1250 proxy_rep.heatmap_std=1.0)
else
    RENDER_BATCHES="64 256 1024"; TRAIN_BATCHES=140; TRAIN_ITERS=5
    # 100 steps of the original's batch 140 per epoch, so that validation (and the best weights) comes
    # every few tens of seconds within the time budget.
    RECIPE=(train.batch_size=140 data.samples_per_epoch=14000 data.val_samples=1400)
fi

echo "== renderer benchmark"
python3 -m benchmarks.rasterizer --batch_sizes $RENDER_BATCHES --json "$OUT/renderer_benchmark.json" \
    $([ "$DEVICE" = cpu ] && echo --cpu_only) 2>&1 | tee "$OUT/renderer_benchmark.log"
echo "== training benchmark"
python3 -m benchmarks.training_step --device "$DEVICE" --batch_sizes "$TRAIN_BATCHES" --iters "$TRAIN_ITERS" \
    --precisions float32,auto --json "$OUT/train_benchmark.json" \
    $([ "$SMOKE" = 1 ] && echo --img_wh 64 --repeats 1 --warmup 1) 2>&1 | tee "$OUT/train_benchmark.log"
echo "== prediction benchmark"
if python3 -c "import mediapipe, cv2" 2>/dev/null; then
    python3 -m benchmarks.prediction --device "$DEVICE" --json "$OUT/predict_benchmark.json" \
        $([ "$SMOKE" = 1 ] && echo --num_images 2 --batch_sizes 2 --repeats 1) 2>&1 | tee "$OUT/predict_benchmark.log"
else
    echo "skipped: mediapipe (the default detector) is not installed here" | tee "$OUT/predict_benchmark.log"
fi

echo "== training for $MINUTES minutes"
python3 run_train.py --init_from checkpoints/open_body/straps_open_body.pt --output_dir "$OUT/run" \
    --device "$DEVICE" train.max_minutes="$MINUTES" train.epochs=1000 train.warmup_steps=50 \
    train.checkpoint_every_epochs=0 train.image_every_steps=0 "${RECIPE[@]}" 2>&1 \
    | tr "\r" "\n" | grep -v -E "sample/s|s/sample" | tee "$OUT/train.log"
python3 -m train.export "$OUT/run" --out "$OUT/straps_open_body.pt"
split -b 15M "$OUT/straps_open_body.pt" "$OUT/straps_open_body.pt.part-"
cp "$OUT/run/val_metrics.jsonl" "$OUT/val_metrics.jsonl"
ls -l "$OUT"
