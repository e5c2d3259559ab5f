#!/usr/bin/env bash
# Builds (or reuses) Istio's control plane and agent for the mesh end-to-end tests:
# pilot-discovery (istiod) and pilot-agent, from the Go module proxy's istio.io/istio module,
# into a version-keyed directory of the cache outside the repo.
#
#   scripts/istio.sh [build]   # builds pilot-discovery and pilot-agent unless cached
#   scripts/istio.sh env       # prints `export VAR=...` lines for the cached binaries
#   scripts/istio.sh status    # prints whether they are cached
#
# istio.io/istio is untagged on the module proxy; its release branches are served as
# pseudo-versions (release-1.31 below: VERSION 1.31, Kubernetes libraries v0.36, no replace
# directives, so a plain copy of the module directory builds). Envoy is not a Go program
# and is not built: the tests run the agent with DISABLE_ENVOY=true.
#
# The build happens in a temp dir beside its final place and is renamed into place when
# complete, so an interrupted build never counts as done and a warm run only checks paths.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Head of istio.io/istio's release-1.31 branch as the Go module proxy served it.
ISTIO_MODULE_VERSION="${MESH_VM_ISTIO_MODULE_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}"
ISTIO_DIR="$MESH_VM_CACHE/istio/$ISTIO_MODULE_VERSION"
LOG_DIR="$MESH_VM_CACHE/logs"

# Pseudo-versions of istio.io/istio are served by the proxy but may be unknown to its checksum database.
go_proxy_env istio.io/istio

build_istio() {
  local v=$ISTIO_MODULE_VERSION final=$ISTIO_DIR tmp out src version commit pkg
  tmp=$(new_tmp "$final")
  out=$(cd /tmp && go mod download -json "istio.io/istio@$v") || {
    printf '%s\n' "$out" | jq -r '.Error // empty'
    return 1
  }
  src=$(printf '%s\n' "$out" | jq -r .Dir)
  [ -d "$src" ] || die "go mod download gave no directory for istio.io/istio@$v"
  cp -r "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  version="$(cat "$tmp/src/VERSION")-dev"
  commit=${v##*-}
  pkg=istio.io/istio/pkg/version
  mkdir -p "$tmp/out/bin"
  (
    cd "$tmp/src"
    go build -trimpath \
      -ldflags "-s -w -X $pkg.buildVersion=$version -X $pkg.buildGitRevision=$commit -X $pkg.buildStatus=Clean -X $pkg.buildTag=$v" \
      -o "$tmp/out/bin/" ./pilot/cmd/pilot-discovery ./pilot/cmd/pilot-agent
  )
  "$tmp/out/bin/pilot-agent" version --short
  "$tmp/out/bin/pilot-discovery" version --short
  echo "$v" >"$tmp/out/module-version"
  rm -rf "$final"
  mv "$tmp/out" "$final"
  rm -rf "$tmp"
}

ensure_istio() {
  if [ -x "$ISTIO_DIR/bin/pilot-discovery" ] && [ -x "$ISTIO_DIR/bin/pilot-agent" ]; then return 0; fi
  local name="istio-$ISTIO_MODULE_VERSION"
  mkdir -p "$LOG_DIR"
  local start=$SECONDS
  log "building pilot-discovery and pilot-agent from istio.io/istio@$ISTIO_MODULE_VERSION (log: $LOG_DIR/$name.log; ~15 min cold)"
  if ! build_istio >"$LOG_DIR/$name.log" 2>&1; then
    tail -n 30 "$LOG_DIR/$name.log" >&2
    die "building $name failed (full log: $LOG_DIR/$name.log)"
  fi
  local took=$((SECONDS - start))
  printf '%s %s %ss\n' "$(date -u +%FT%TZ)" "$name" "$took" >>"$LOG_DIR/build-times.txt"
  log "built $name in ${took}s"
}

print_env() {
  cat <<EOF
export MESH_VM_PILOT_DISCOVERY='$ISTIO_DIR/bin/pilot-discovery'
export MESH_VM_PILOT_AGENT='$ISTIO_DIR/bin/pilot-agent'
EOF
}

print_status() {
  local f
  for f in "$ISTIO_DIR/bin/pilot-discovery" "$ISTIO_DIR/bin/pilot-agent"; do
    if [ -x "$f" ]; then echo "ok      $f"; else echo "missing $f"; fi
  done
}

main() {
  case "${1:-build}" in
    env)
      print_env
      return
      ;;
    status)
      print_status
      return
      ;;
    build) ;;
    *) die "usage: scripts/istio.sh [build|env|status]" ;;
  esac
  command -v jq >/dev/null || die "jq is required (apt-get install jq)"
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null || die "Go >= 1.25 is required to build Istio"
  # One builder at a time per cache (its own lock: the toolchain's builds need not wait).
  mkdir -p "$MESH_VM_CACHE"
  exec 9>"$MESH_VM_CACHE/.istio.lock"
  flock 9
  ensure_istio
  log "istio ready in $ISTIO_DIR"
}

main "$@"; exit  # one line: bash has read it whole, so editing this file mid-run is safe
