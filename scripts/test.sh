#!/usr/bin/env bash
# The whole test suite: set-up (Debian packages, toolchain, istiod, npm dependencies, the test bed's cached
# parts), static checks, unit tests, then end-to-end tests against the real engine, API server and VM hosts.
# Usage: scripts/test.sh [unit|e2e|all|setup]   (default: all)
#   setup   only the set-up phase: everything the tests look up but never build themselves
# With CI=true (or MESH_VM_CHECK_FRESH_TESTBED=1) the set-up also builds the test bed's cheap parts into an
# empty throw-away cache with a hostile environment, so a broken install step fails even on a warm machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
what="${1:-all}"
case "$what" in unit | e2e | all | setup) ;; *) die "usage: scripts/test.sh [unit|e2e|all|setup]" ;; esac

ensure_apt_packages
ensure_toolchain
ensure_node_modules
# Envoy's API rules for the rendered Envoy configs, and the data-path stand-ins (unit and end-to-end tests).
ensure_envoy_validator
# istiod, the agent and the hosts' root filesystem serve only the end-to-end suites.
if [ "$what" != unit ]; then
  ensure_istio_build
  ensure_testbed
  ensure_systemd_testbed
  if [ "${CI:-}" = true ] || [ "${MESH_VM_CHECK_FRESH_TESTBED:-}" = 1 ]; then check_testbed_from_scratch; fi
fi
[ "$what" = setup ] && {
  log "set-up done"
  exit 0
}
cd "$MESH_VM_ROOT"

log "static checks: tsc, eslint, prettier"
npm run --silent check

if [ "$what" = unit ] || [ "$what" = all ]; then
  log "unit tests"
  npm run --silent test:unit
fi
if [ "$what" = e2e ] || [ "$what" = all ]; then
  # The YAML program and the local programs run the package compiled (bin/), as installed from npm: build it
  # here rather than rely on an earlier suite (npm pack's prepare) having built it.
  log "building the package (bin/)"
  npm run --silent build
  log "end-to-end tests (real pulumi, kube-apiserver, VM hosts)"
  # A temp dir of this run's own: a process running from it after the suite is this run's leak (other runs or
  # a sandbox on the same machine are not).
  suite_tmp=$(mktemp -d "${TMPDIR:-/tmp}/mesh-vm-suite-XXXXXX")
  # Traversable (not listable) by other users: the PostgreSQL server the backend suite starts runs as `postgres`
  # from a directory below it.
  chmod 0711 "$suite_tmp"
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
