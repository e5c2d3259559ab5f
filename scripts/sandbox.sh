#!/usr/bin/env bash
# The local sandbox: a real API server with Istio's CRDs and two VM hosts on this machine, onboarded by
# the root program's `sandbox` stack (the seeds' ratings example). Everything it makes lives in
# .sandbox/ (override: MESH_VM_SANDBOX_DIR) and is removed by `down`.
# Usage: scripts/sandbox.sh [up [--istiod]|down|status]   (default: up)
#   up      install what is missing (Debian packages, toolchain, npm dependencies), start the test bed
#           detached, run the root program with the toolchain's `pulumi` CLI (`pulumi preview`, then
#           `pulumi up`: both VMs onboarded, proxies ready, WorkloadEntries registered), print where to
#           look. Re-running it on a running sandbox converges the stack again (no changes).
#           --istiod (or MESH_VM_SANDBOX_ISTIOD=1): with a real istiod and the real Istio agent on both
#           hosts instead of the stand-in proxy (builds them first with scripts/istio.sh, cached by
#           version): ratings-vm boots systemd and runs Istio's istio-sidecar package (the package
#           runtime), ratings-vm-2 the agent's image. A running sandbox keeps the mode it was started
#           with: `up` in the other mode refuses.
#   down    `pulumi destroy`, then stop every process and remove every namespace, mount and file it made.
#   status  what runs, and whether each proxy is ready.
# Needs root: the VM hosts are network namespaces.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
usage="usage: scripts/sandbox.sh [up [--istiod]|down|status]   (or MESH_VM_SANDBOX_ISTIOD=1 for --istiod)"
what=""
istiod="${MESH_VM_SANDBOX_ISTIOD:-}"
case "$istiod" in
  "" | 0 | 1) ;;
  *) die "MESH_VM_SANDBOX_ISTIOD must be 1 (with istiod) or 0/unset, not \"$istiod\"" ;;
esac
for arg in "$@"; do
  case "$arg" in
    up | down | status) [ -z "$what" ] || die "$usage"; what=$arg ;;
    --istiod) istiod=1 ;;
    *) die "$usage" ;;
  esac
done
what="${what:-up}"
if [ "$istiod" = 1 ] && [ "$what" != up ]; then
  die "--istiod (or MESH_VM_SANDBOX_ISTIOD=1) is for up only: $what works on the sandbox as it was started"
fi
[ "$(id -u)" -eq 0 ] || die "the sandbox needs root (its VM hosts are network namespaces)"

# One up/down at a time per sandbox dir (status only reads).
if [ "$what" != status ]; then
  sandbox_dir=$(realpath -m "${MESH_VM_SANDBOX_DIR:-$MESH_VM_ROOT/.sandbox}")
  exec 8>"/tmp/mesh-vm-sandbox-$(printf %s "$sandbox_dir" | sha256sum | cut -c1-16).lock"
  flock -n 8 || die "another 'scripts/sandbox.sh up/down' is running on $sandbox_dir; wait for it to finish"
fi

args=("$what")
if [ "$what" = up ]; then
  ensure_apt_packages
  ensure_toolchain
  # istiod, the agent, and the package host's systemd root filesystem and istio-sidecar deb only for --istiod:
  # a plain sandbox needs none of them.
  if [ "$istiod" = 1 ]; then
    ensure_istio_build
    ensure_systemd_testbed
    args+=(--istiod)
  fi
  ensure_node_modules
  ensure_testbed
else
  # Nothing to build for down/status: the toolchain's environment is enough.
  eval "$("$MESH_VM_ROOT/scripts/toolchain.sh" env)"
  [ -x "$MESH_VM_ROOT/node_modules/.bin/tsx" ] || ensure_node_modules
fi
cd "$MESH_VM_ROOT"
# The mode goes as the --istiod argument (the environment variable is folded into it above).
exec env -u MESH_VM_SANDBOX_ISTIOD node --import tsx scripts/sandbox/main.ts "${args[@]}"
