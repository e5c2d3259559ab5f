#!/usr/bin/env bash
# The whole test suite: set-up (Debian packages, toolchain, npm dependencies), static checks,
# unit tests, then end-to-end tests against the real engine, API server and VM hosts.
# Usage: scripts/test.sh [unit|e2e|all]   (default: all)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
what="${1:-all}"

ensure_apt_packages
ensure_toolchain
# istiod and the agent serve only the end-to-end suites.
[ "$what" = unit ] || ensure_istio_build
ensure_node_modules
# Envoy's API rules for the rendered Envoy configs (unit and end-to-end tests).
ensure_envoy_validator
cd "$MESH_VM_ROOT"

log "static checks: tsc, eslint, prettier"
npm run --silent check

if [ "$what" = unit ] || [ "$what" = all ]; then
  log "unit tests"
  npm run --silent test:unit
fi
if [ "$what" = e2e ] || [ "$what" = all ]; then
  log "end-to-end tests (real pulumi, kube-apiserver, VM hosts)"
  # A temp dir of this run's own: a process running from it after the suite is this run's leak (other runs or
  # a sandbox on the same machine are not).
  suite_tmp=$(mktemp -d "${TMPDIR:-/tmp}/mesh-vm-suite-XXXXXX")
  TMPDIR="$suite_tmp" npm run --silent test:e2e
  log "checking that the suite left nothing behind"
  # Hosts: namespaces, mounts, sshd, containers, cgroups of test hosts whose test process is gone.
  node --import tsx scripts/testbed/cleanup.ts
  if pgrep -af -- "$suite_tmp" >/dev/null; then
    pgrep -af -- "$suite_tmp" >&2
    die "processes started by the suite (etcd, kube-apiserver, ...) outlived it"
  fi
  # Files are not checked: the tools themselves leave temp files (inline Automation API workspaces, the
  # Kubernetes provider's kubeconfig copies).
  rm -rf "$suite_tmp"
fi
