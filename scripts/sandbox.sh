#!/usr/bin/env bash
# The local sandbox: a real API server with Istio's CRDs and two VM hosts on this machine, onboarded by
# the root program's `sandbox` stack (the seeds' ratings example). Everything it makes lives in
# .sandbox/ (override: MESH_VM_SANDBOX_DIR) and is removed by `down`.
# Usage: scripts/sandbox.sh [up|down|status]   (default: up)
#   up      install what is missing (Debian packages, toolchain, npm dependencies), start the test bed
#           detached, run the root program with the toolchain's `pulumi` CLI (`pulumi preview`, then
#           `pulumi up`: both VMs onboarded, proxies ready, WorkloadEntries registered), print where to
#           look. Re-running it on a running sandbox converges the stack again (no changes).
#   down    `pulumi destroy`, then stop every process and remove every namespace, mount and file it made.
#   status  what runs, and whether each proxy is ready.
# Needs root: the VM hosts are network namespaces.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
what="${1:-up}"
case "$what" in
  up | down | status) ;;
  *) die "usage: scripts/sandbox.sh [up|down|status]" ;;
esac
[ "$(id -u)" -eq 0 ] || die "the sandbox needs root (its VM hosts are network namespaces)"

# One up/down at a time per sandbox dir (status only reads).
if [ "$what" != status ]; then
  sandbox_dir=$(realpath -m "${MESH_VM_SANDBOX_DIR:-$MESH_VM_ROOT/.sandbox}")
  exec 8>"/tmp/mesh-vm-sandbox-$(printf %s "$sandbox_dir" | sha256sum | cut -c1-16).lock"
  flock -n 8 || die "another 'scripts/sandbox.sh up/down' is running on $sandbox_dir; wait for it to finish"
fi

if [ "$what" = up ]; then
  ensure_apt_packages
  ensure_toolchain
  ensure_node_modules
else
  # Nothing to build for down/status: the toolchain's environment is enough.
  eval "$("$MESH_VM_ROOT/scripts/toolchain.sh" env)"
  [ -x "$MESH_VM_ROOT/node_modules/.bin/tsx" ] || ensure_node_modules
fi
cd "$MESH_VM_ROOT"
exec node --import tsx scripts/sandbox/main.ts "$what"
