#!/usr/bin/env bash
# Benchmarks that print a table, with the set-up scripts/test.sh does (Debian packages, toolchain, npm ci).
# Usage: scripts/bench.sh onboard [N ...] [--parallel P] [--no-baseline]   whole onboarding + tctl-style baseline
#        scripts/bench.sh mock [N] [--per-vm-roots]                        mock preview of N MeshVms (default 1000)
#        scripts/bench.sh fleet [N ...]                                    mesh side only (no hosts)
#        scripts/bench.sh hosts [--scratch]                                test host creation
#        scripts/bench.sh shards [N] [K] [C]                               1 stack against K shards (mesh side)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
what="${1:-}"
case "$what" in
  onboard) script=onboard.ts ;;
  mock) script=mockScale.ts ;;
  fleet) script=fleet.ts ;;
  hosts) script=hosts.ts ;;
  shards) script=shards.ts ;;
  *) die "usage: scripts/bench.sh onboard|mock|fleet|hosts|shards [args...]" ;;
esac
shift

# Only what the benchmarks use (no istiod, no YAML language host).
if [ "$what" != mock ]; then ensure_apt_packages; fi
"$MESH_VM_ROOT/scripts/toolchain.sh" node pulumi etcd kube-apiserver command tls kubernetes >&2
eval "$("$MESH_VM_ROOT/scripts/toolchain.sh" env)"
ensure_node_modules
# The hosts' root filesystem: the hosts benchmark times its own (re)builds, the onboarding one needs it built.
if [ "$what" = onboard ]; then ensure_testbed; fi
cd "$MESH_VM_ROOT"
log "benchmark: scripts/bench/$script $*  (load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
exec node --import tsx "scripts/bench/$script" "$@"
