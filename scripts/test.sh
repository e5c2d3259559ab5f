#!/usr/bin/env bash
# The whole test suite: set-up (Debian packages, toolchain, npm dependencies), static checks,
# unit tests, then end-to-end tests against the real engine, API server and VM hosts.
# Usage: scripts/test.sh [unit|e2e|all]   (default: all)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
what="${1:-all}"

ensure_apt_packages
ensure_toolchain
ensure_node_modules
cd "$MESH_VM_ROOT"

log "static checks: tsc, eslint, prettier"
npm run --silent check

if [ "$what" = unit ] || [ "$what" = all ]; then
  log "unit tests"
  npm run --silent test:unit
fi
if [ "$what" = e2e ] || [ "$what" = all ]; then
  log "end-to-end tests (real pulumi, kube-apiserver, VM hosts)"
  npm run --silent test:e2e
fi
