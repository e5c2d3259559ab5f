# Shared shell helpers for mesh-vm's scripts. Sourced, not run.
# shellcheck shell=bash

MESH_VM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export MESH_VM_ROOT
export MESH_VM_CACHE="${MESH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mesh-vm}"

log() { printf '[mesh-vm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[mesh-vm] error: %s\n' "$*" >&2; exit 1; }

# Debian packages the test bed needs: network namespaces and veth (iproute2), per-host
# root filesystems (debootstrap), the VM hosts' SSH servers and the tests' SSH client,
# podman behind a docker CLI, openssl for test certificates, cloud-init, whose `cloud-init schema`
# validates every rendered user data document in the unit tests, and the PostgreSQL server the team-state
# test runs Pulumi's postgres:// backend against (started by the test itself in a temp dir, on loopback).
MESH_VM_APT_PACKAGES=(
  iproute2 debootstrap openssh-client openssh-server openssl
  podman podman-docker runc uidmap slirp4netns
  curl ca-certificates procps psmisc util-linux xz-utils jq
  cloud-init postgresql
)

# Install the Debian packages that are missing. Needs root (the test bed creates network
# namespaces, so it needs root anyway).
ensure_apt_packages() {
  local missing=()
  for p in "${MESH_VM_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); install them as root: apt-get install ${missing[*]}"
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Put the toolchain (Node 24, pulumi, plugins, kube-apiserver, etcd) in place and into the
# environment of this shell.
ensure_toolchain() {
  "$MESH_VM_ROOT/scripts/toolchain.sh" >&2
  eval "$("$MESH_VM_ROOT/scripts/toolchain.sh" env)"
}

# istiod and the Istio agent (the mesh-truth test, test/e2e/istiod.test.ts, and `sandbox.sh up --istiod`):
# cached by version, so a warm run only checks paths.
ensure_istio_build() {
  "$MESH_VM_ROOT/scripts/istio.sh" build >&2
  # The stand-in for Envoy's xDS stream (auto-registration suite), built against the same istio module.
  log "test bed: the xds-client (scripts/testbed/xdsClient.ts)"
  (cd "$MESH_VM_ROOT" && eval "$("$MESH_VM_ROOT/scripts/toolchain.sh" env)" &&
    node --import tsx -e "require('./scripts/testbed/xdsClient.ts').xdsClientPath().then((p) => console.error(p))")
}

# The test bed's cached parts that tests only look up (they never build): the VM hosts' root filesystem with
# the stand-in proxy image. Built here, in the set-up phase, in rootfs.sh's own clean environment.
ensure_testbed() {
  log "test bed: the VM hosts' root filesystem (scripts/testbed/rootfs.sh)"
  bash "$MESH_VM_ROOT/scripts/testbed/rootfs.sh" build >/dev/null
}

# The `package` runtime's test bed (end-to-end suites only): hosts with systemd as init (their own root
# filesystem, built in a clean environment like rootfs.sh's) and the istio-sidecar package they install, made
# from Istio's packaging files and the agent of ensure_istio_build (call that first).
ensure_systemd_testbed() {
  log "test bed: the systemd hosts' root filesystem (scripts/testbed/rootfs-systemd.sh)"
  bash "$MESH_VM_ROOT/scripts/testbed/rootfs-systemd.sh" build >/dev/null
  log "test bed: the istio-sidecar package (scripts/testbed/sidecar-package.sh)"
  bash "$MESH_VM_ROOT/scripts/testbed/sidecar-package.sh" build >/dev/null
  log "test bed: its second version, for the upgrade (scripts/testbed/sidecar-package-next.sh)"
  bash "$MESH_VM_ROOT/scripts/testbed/sidecar-package-next.sh" build >/dev/null
}

# Proof that the test bed still builds from nothing: its cheap parts (minutes) are built into a throw-away
# cache with a hostile environment: this shell's TMPDIR pointing at a machine-only dir, a home and locale that
# do not exist in a chroot, and proxy variables that lead nowhere (port 9, discard). A set-up step that lets
# any of them into a chroot fails here, even on a machine whose real cache is warm.
check_testbed_from_scratch() {
  local scratch start=$SECONDS pids=() script failed=""
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/mesh-vm-fresh-testbed-XXXXXX")
  log "test bed from scratch: building both root filesystems into $scratch (empty cache, the suite's environment)"
  # The Docker-runtime hosts' and the systemd hosts' trees, side by side (mostly downloads and dpkg).
  for script in rootfs.sh rootfs-systemd.sh; do
    TMPDIR="$scratch/tmp-of-the-machine" HOME="$scratch/home-of-the-machine" LC_ALL=xx_XX.UTF-8 \
      http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 MESH_VM_CACHE="$scratch/cache" \
      bash -c 'mkdir -p "$TMPDIR" "$HOME" && exec bash "$1" build' _ "$MESH_VM_ROOT/scripts/testbed/$script" \
      >/dev/null 2>"$scratch/$script.log" &
    pids+=($!)
  done
  for i in 0 1; do
    wait "${pids[$i]}" || failed="$failed $([ "$i" = 0 ] && echo rootfs.sh || echo rootfs-systemd.sh)"
  done
  if [ -n "$failed" ]; then
    for script in $failed; do tail -n 30 "$scratch/$script.log" >&2; done
    rm -rf "$scratch"
    die "the test bed does not build from an empty cache (scripts/testbed/$failed; output above)"
  fi
  rm -rf "$scratch"
  log "test bed from scratch: built in $((SECONDS - start))s"
}

# Install the npm dependencies exactly as locked, only when the lock file changed.
ensure_node_modules() {
  local stamp="$MESH_VM_ROOT/node_modules/.mesh-vm-lock-sha"
  local want
  want=$(sha256sum "$MESH_VM_ROOT/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "installing npm dependencies (npm ci)"
  (cd "$MESH_VM_ROOT" && npm ci --ignore-scripts --no-audit --no-fund >&2)
  echo "$want" >"$stamp"
}

# Go builds from the Go module proxy only. $1: module patterns whose pseudo-versions the checksum database may
# not know (trusted from the proxy alone).
go_proxy_env() {
  export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local
  export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}$1"
  # Only the proxy is reachable: never fall back to fetching from VCS hosts directly.
  GOPROXY=$(go env GOPROXY 2>/dev/null | sed -e 's/,direct$//' -e 's/|direct$//') || true
  export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
}

# new_tmp FINAL -> a fresh temp dir beside FINAL (same file system, so rename is atomic).
# Leftovers of an interrupted build are removed first (builds hold their cache lock).
new_tmp() {
  mkdir -p "$(dirname "$1")"
  rm -rf "$(dirname "$1")/.$(basename "$1").tmp."*
  mktemp -d "$(dirname "$1")/.$(basename "$1").tmp.XXXXXX"
}

# The Envoy config validator (scripts/testbed/envoy-validate: Envoy's API rules from go-control-plane, no Envoy
# binary needed) and the data-path stand-ins beside it (standin/: client, passthrough gateway, sidecar), cached
# under a key of their sources, go.mod and go.sum: the tests find them at the same key
# (scripts/testbed/envoyValidator.ts) and fail naming scripts/test.sh when they are missing.
envoy_validator_key() {
  local dir="$MESH_VM_ROOT/scripts/testbed/envoy-validate" f
  (
    cd "$dir"
    for f in go.mod go.sum $(find . -name '*.go' -printf '%P\n' | LC_ALL=C sort); do
      printf '%s\0' "$f"
      cat "$f"
    done
  ) | sha256sum | cut -c1-16
}

ensure_envoy_validator() {
  local key final src="$MESH_VM_ROOT/scripts/testbed/envoy-validate"
  key=$(envoy_validator_key)
  final="$MESH_VM_CACHE/envoy-validate/$key"
  [ -x "$final/envoy-validate" ] && [ -x "$final/envoy-standin" ] && return 0
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null || die "Go >= 1.25 is required to build the Envoy config validator"
  mkdir -p "$MESH_VM_CACHE"
  (
    exec 9>"$MESH_VM_CACHE/.envoy-validate.lock"
    flock 9
    [ -x "$final/envoy-validate" ] && [ -x "$final/envoy-standin" ] && exit 0
    go_proxy_env ""
    # Only go.sum's modules: a changed dependency must come with a changed go.sum (never resolved silently).
    export GOFLAGS=-mod=readonly
    local tmp
    tmp=$(new_tmp "$final")
    log "building the Envoy config validator and data-path stand-ins ($key)"
    (
      cd "$src"
      go build -trimpath -ldflags "-s -w" -o "$tmp/envoy-validate" .
      go build -trimpath -ldflags "-s -w" -o "$tmp/envoy-standin" ./standin
    ) >&2 || die "building scripts/testbed/envoy-validate failed"
    rm -rf "$final"
    mv "$tmp" "$final"
  )
}
