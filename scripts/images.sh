#!/usr/bin/env bash
# Builds the worker and gateway images from deploy/docker/Dockerfile.{worker,gateway} with buildah,
# and (`check`, what scripts/test.sh runs) makes one decision through them with podman against an
# embedded Temporal dev server, then prints the image sizes.
#
# No image registry is reachable from where this was written, so the two base images the
# Dockerfiles name (rust:1.95-bookworm, debian:bookworm-slim) are made here instead, once, from
# Debian's packages with debootstrap, and passed as BUILDER_IMAGE / RUNTIME_IMAGE:
#   localhost/torghut-base/debian:bookworm-slim   debootstrap minbase, trimmed as Debian's -slim is
#   localhost/torghut-base/rust:<host rustc>-bookworm   the same plus gcc, libc6-dev and this
#                                                       machine's Rust toolchain in /usr/local
# Everything it keeps (Debian .debs, the image build's cargo registry and release target dir, as
# buildah cache mounts) is under ~/.cache/torghut-decision-engine/images, never in the clone.
# See deploy/README.md, "Images".
#
# Where the machine refuses containers (no podman/buildah/debootstrap, not root, no runtime that
# starts a container) `check` prints "skipped: <reason>" and exits 0; every other failure fails.
#
# usage: scripts/images.sh [check|build]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

MODE="${1:-check}"
case "$MODE" in
  check | build) ;;
  *) echo "usage: scripts/images.sh [check|build]" >&2; exit 2 ;;
esac

CACHE="$HOME/.cache/torghut-decision-engine/images"
DEBIAN_MIRROR="${TORGHUT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RUNTIME_BASE=localhost/torghut-base/debian:bookworm-slim
WORKER_IMAGE=localhost/torghut/decision-worker:dev
GATEWAY_IMAGE=localhost/torghut/decision-gateway:dev
# Bump when make_base or finish_* change, so bases made by an older recipe are made again.
BASE_RECIPE=2

skip() { echo "skipped: $*"; exit 0; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (scripts/install-deps.sh installs it on Debian)"
done
# debootstrap unpacks a root filesystem with root-owned files and device nodes; rootless podman
# could run the images, but nothing here could make their bases.
[ "$(id -u)" = 0 ] || skip "making the base images with debootstrap needs root (running as uid $(id -u))"

mkdir -p "$CACHE/debs" "$CACHE/tmp"

# podman's default limits for root are the kernel's maxima (nofile 1048576); a machine whose hard
# limits are lower (this one's: 20000) refuses to raise them and the runtime fails with
# "setrlimit: Operation not permitted". Ask for limits within the host's instead.
nofile="$(ulimit -Hn)"
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
LIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)
# The probe image is /usr/bin/true and the libraries it loads, so a machine that refuses
# containers is told so in seconds, before minutes of debootstrap.
PROBE_IMAGE=localhost/torghut-base/probe:true
if ! podman image exists "$PROBE_IMAGE"; then
  probe_root="$(mktemp -d "$CACHE/tmp/probe.XXXXXX")"
  for f in /usr/bin/true $(ldd /usr/bin/true | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$probe_root$(dirname "$f")"
    cp -L "$f" "$probe_root$f"
  done
  if ! out="$(tar -C "$probe_root" -c . | podman import --quiet - "$PROBE_IMAGE" 2>&1)"; then
    rm -rf "$probe_root"
    skip "podman cannot store an image here: $out"
  fi
  rm -rf "$probe_root"
fi
# crun (podman's default on Debian) refuses a hybrid cgroup hierarchy whose cgroup2 mount has
# controllers ("cgroups in hybrid mode not supported"); runc accepts it. Use the first runtime
# that starts a container, and say so.
RUNTIME=""
probe_errors=""
for rt in crun runc; do
  command -v "$rt" >/dev/null 2>&1 || { probe_errors+="  $rt: not installed"$'\n'; continue; }
  if out="$(podman run --rm --runtime "$rt" --network host "${LIMITS[@]}" "$PROBE_IMAGE" /usr/bin/true 2>&1)"; then
    RUNTIME=$rt
    break
  fi
  probe_errors+="  $rt: $out"$'\n'
done
[ -n "$RUNTIME" ] || skip "no OCI runtime starts a container here:"$'\n'"$probe_errors"
echo "container runtime: $RUNTIME"

# A root filesystem from Debian's packages, imported as an image. $1 image, $2 extra packages
# (comma-separated, may be empty), $3 a function that finishes the tree, $4... --change flags.
make_base() {
  local image=$1 include=$2 finish=$3
  shift 3
  if [ "$(podman image inspect --format '{{index .Config.Labels "torghut.base-recipe"}}' "$image" 2>/dev/null)" = "$BASE_RECIPE" ]; then
    return 0
  fi
  local started rootfs
  started=$(date +%s)
  rootfs="$(mktemp -d "$CACHE/tmp/rootfs.XXXXXX")"
  echo "making $image with debootstrap (once; kept in podman's storage)"
  # --cache-dir keeps the .debs, so a second base (or a remade one) downloads nothing twice.
  if ! debootstrap --variant=minbase ${include:+--include="$include"} --cache-dir="$CACHE/debs" \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >"$CACHE/tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/tmp/debootstrap.log" >&2
    rm -rf "$rootfs"
    echo "error: debootstrap of $image failed; full log: $CACHE/tmp/debootstrap.log" >&2
    exit 1
  fi
  # What debian:bookworm-slim leaves out, and a dpkg filter so later apt installs leave it out too.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/cache/apt/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old
  printf '%s\n' "deb $DEBIAN_MIRROR bookworm main" "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >"$rootfs/etc/apt/sources.list"
  "$finish" "$rootfs"
  tar --numeric-owner -C "$rootfs" -c . \
    | podman import --quiet --change "LABEL torghut.base-recipe=$BASE_RECIPE" "$@" - "$image" >/dev/null
  rm -rf "$rootfs"
  echo "made $image in $(elapsed "$started")"
}
finish_runtime() { :; }
# The host's toolchain installed as a standalone Rust install is: bin/ lib/ libexec/ under
# /usr/local (rustc finds its sysroot from its own path). Its docs stay behind.
RUST_SYSROOT="$(rustc --print sysroot)"
RUST_VERSION="$(rustc --version | awk '{print $2}')"
BUILDER_BASE="localhost/torghut-base/rust:${RUST_VERSION}-bookworm"
# The builder fetches crates over this machine's network, so it trusts what this machine trusts
# (here a TLS-inspecting egress proxy's CA, which Debian's bundle lacks). Only the builder gets
# the host's bundle; the runtime images carry Debian's ca-certificates alone.
HOST_CA_BUNDLE="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
finish_builder() {
  cp -a "$RUST_SYSROOT"/{bin,lib,libexec} "$1/usr/local/"
  mkdir -p "$1/usr/local/cargo"
  cp "$HOST_CA_BUNDLE" "$1/etc/ssl/certs/ca-certificates.crt"
}
make_base "$RUNTIME_BASE" "" finish_runtime \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]'
make_base "$BUILDER_BASE" "gcc,libc6-dev,ca-certificates" finish_builder \
  --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' --change 'CMD ["bash"]'


echo "== building $WORKER_IMAGE and $GATEWAY_IMAGE (buildah)"
# buildah keeps `RUN --mount=type=cache` directories under $TMPDIR (in buildah-cache/): point it
# at the project's cache so the release target dir and the cargo registry survive reboots and
# fresh clones, as the host build's target dir does.
mkdir -p "$CACHE/buildah"
build_started=$(date +%s)
for image in worker gateway; do
  tag=$WORKER_IMAGE
  [ "$image" = gateway ] && tag=$GATEWAY_IMAGE
  log="$CACHE/build-$image.log"
  if ! TMPDIR="$CACHE/buildah" buildah bud --layers --network host --runtime "$RUNTIME" "${LIMITS[@]}" \
    --build-arg "BUILDER_IMAGE=$BUILDER_BASE" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" \
    -f "deploy/docker/Dockerfile.$image" -t "$tag" . >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: building $tag failed; full log: $log" >&2
    exit 1
  fi
done
echo "built both images in $(elapsed "$build_started")"
# Each build of changed sources leaves its build stage behind as an untagged image: the layer
# cache for the next run, about 50 MB of its own (the rest is shared with the builder base).
# Keep a week of them.
podman image prune --force --filter until=168h >/dev/null

size_of() { podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%.1f MB", $1 / 1e6}'; }
print_sizes() {
  echo "== image sizes (uncompressed, as podman stores them)"
  for image in "$WORKER_IMAGE" "$GATEWAY_IMAGE" "$RUNTIME_BASE"; do
    printf '  %-48s %s\n' "$image" "$(size_of "$image")"
  done
}
[ "$MODE" = build ] && { print_sizes; exit 0; }

echo "== the images as shipped: non-root, no build tools"
# The images have no shell to ask, so read their filesystems: export each and list it.
files_of() {
  local c
  c="$(podman create --runtime "$RUNTIME" "$1")"
  podman export "$c" | tar -t | sed 's|^\./||'
  podman rm "$c" >/dev/null
}
for image in "$WORKER_IMAGE" "$GATEWAY_IMAGE"; do
  user="$(podman image inspect --format '{{.Config.User}}' "$image")"
  [ "$user" = "10001:10001" ] || { echo "error: $image runs as '$user', not 10001:10001" >&2; exit 1; }
  files="$(files_of "$image")"
  if tools="$(grep -E '(^|/)(cargo|rustc|cc|gcc|ld|protoc|sh|bash|apt-get|dpkg)$|^usr/local/(cargo|lib/rustlib)/' <<<"$files")"; then
    echo "error: $image carries build tools or a shell:"$'\n'"$tools" >&2
    exit 1
  fi
  echo "  $image: $(grep -vc '/$' <<<"$files") files, user $user"
done
for f in minute/IBM.csv daily/IBM.csv ATTRIBUTION.md; do
  grep -qx "opt/torghut/activities/data/bars/$f" <<<"$(files_of "$WORKER_IMAGE")" \
    || { echo "error: the worker image lacks the embedded data file activities/data/bars/$f" >&2; exit 1; }
done
echo "ok: both run as 10001:10001, with no cargo, rustc, gcc, protoc, shell or apt; the worker has the embedded data"

echo "== one decision through the containers"
STATE="$(mktemp -d "${TMPDIR:-/tmp}/torghut-images.XXXXXX")"
RUN_ID="torghut-images-$$"
TEMPORAL_PID=""
cleanup() {
  local rc=$?
  podman rm -f -t 5 "$RUN_ID-gateway" "$RUN_ID-worker" >/dev/null 2>&1 || true
  [ -n "$TEMPORAL_PID" ] && kill "$TEMPORAL_PID" 2>/dev/null || true
  if [ $rc -eq 0 ]; then rm -rf "$STATE"; else echo "logs kept in $STATE" >&2; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
TEMPORAL_PORT="$(free_port)"
GATEWAY_PORT="$(free_port)"
WORKER_METRICS_PORT="$(free_port)"
wait_for() { # name, seconds, command...
  local name=$1 secs=$2
  shift 2
  for _ in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "error: $name did not become ready within ${secs}s" >&2
  return 1
}
container_logs() {
  for c in worker gateway; do
    podman logs "$RUN_ID-$c" >"$STATE/$c.log" 2>&1 || true
    echo "--- $c container log (last 20 lines)" >&2
    tail -n 20 "$STATE/$c.log" >&2
  done
}

temporal server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --headless --log-level warn \
  --search-attribute Symbol=Keyword --search-attribute StrategyId=Keyword \
  --search-attribute DecisionAction=Keyword --search-attribute TradingMode=Keyword \
  >"$STATE/temporal.log" 2>&1 &
TEMPORAL_PID=$!
wait_for temporal 60 temporal operator namespace describe --address "127.0.0.1:$TEMPORAL_PORT" default \
  || { tail -n 20 "$STATE/temporal.log" >&2; exit 1; }

# The hardening the Deployments ask for (deploy/kustomize/base): read-only root, a /tmp, no
# capabilities. Host networking reaches the dev server on 127.0.0.1.
RUN_FLAGS=(--detach --runtime "$RUNTIME" "${LIMITS[@]}" --network host --read-only --tmpfs /tmp
  --cap-drop ALL --security-opt no-new-privileges -e "TEMPORAL_ADDRESS=http://127.0.0.1:$TEMPORAL_PORT")
podman run "${RUN_FLAGS[@]}" --name "$RUN_ID-worker" \
  -e "TORGHUT_WORKER_METRICS_LISTEN=127.0.0.1:$WORKER_METRICS_PORT" "$WORKER_IMAGE" >/dev/null
podman run "${RUN_FLAGS[@]}" --name "$RUN_ID-gateway" \
  -e "TORGHUT_GATEWAY_LISTEN=127.0.0.1:$GATEWAY_PORT" "$GATEWAY_IMAGE" >/dev/null
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
wait_for gateway 30 curl -fsS "$GATEWAY/readyz" || { container_logs; exit 1; }
wait_for worker 30 curl -fsS "http://127.0.0.1:$WORKER_METRICS_PORT/readyz" || { container_logs; exit 1; }

request_id="$(python3 -c 'import uuid; print(uuid.uuid4())')"
sed "s/__REQUEST_ID__/${request_id}/" scripts/sample-request.json >"$STATE/request.json"
curl -sN --max-time 120 -X POST -H 'content-type: application/json' --data @"$STATE/request.json" \
  "$GATEWAY/api/torghut/decision-engine/stream" >"$STATE/stream.txt" || true
# The decision must end in decision.final, for this request, with an action: anything else
# (decision.error, a cut stream, no final) fails the suite.
if ! python3 scripts/final_event.py "$STATE/stream.txt" --request-id "$request_id"; then
  echo "--- the stream" >&2
  tail -n 30 "$STATE/stream.txt" >&2
  container_logs
  exit 1
fi
podman stop -t 10 "$RUN_ID-gateway" "$RUN_ID-worker" >/dev/null
print_sizes
