#!/usr/bin/env bash
# Builds the second version of the test bed's istio-sidecar deb (scripts/testbed/sidecar-package.sh), for the
# package runtime's upgrade through the engine: the same files with the version `<first version>+next` (dpkg
# orders it after the first) and one more description line. Repacked from the first deb with dpkg-deb (gzip, not
# the first's xz: a set-up of seconds), no build. Cached beside the first, keyed by this script and the first
# deb's sha256 (a rebuilt first deb makes a new second one).
#
#   scripts/testbed/sidecar-package-next.sh [build]  ensure the deb, print its path
#   scripts/testbed/sidecar-package-next.sh path     print its path if built, else fail (tests never build it)
#
# Needs: scripts/testbed/sidecar-package.sh build first, dpkg-deb.
set -euo pipefail
# One compound command: bash reads it whole, so editing this file mid-run is safe.
{

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

first="$(bash "$MESH_VM_ROOT/scripts/testbed/sidecar-package.sh" path)"
dir="$(dirname "$first")/next"
key="$(cat "${BASH_SOURCE[0]}" "$first" | sha256sum | cut -c1-12)"
stamp="$dir/.built-$key"

if [ "${1:-}" = path ]; then
  deb="$(cat "$stamp" 2>/dev/null || true)"
  [ -n "$deb" ] && [ -f "$deb" ] ||
    die "the second istio-sidecar package is not built (in $dir); build it with: scripts/testbed/sidecar-package-next.sh (part of the set-up of scripts/test.sh e2e)"
  echo "$deb"
  exit 0
fi

mkdir -p "$MESH_VM_CACHE"
exec 9>"$MESH_VM_CACHE/.istio-sidecar.lock"
flock 9

if [ ! -f "$stamp" ] || [ ! -f "$(cat "$stamp")" ]; then
  version="$(dpkg-deb -f "$first" Version)+next"
  tmp=$(new_tmp "$dir/istio-sidecar")
  dpkg-deb -R "$first" "$tmp/root"
  sed -i "s/^Version: .*/Version: $version/" "$tmp/root/DEBIAN/control"
  printf ' The second version of the test bed package, for the upgrade tests (the same files).\n' >>"$tmp/root/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip --build "$tmp/root" "$tmp/out.deb" >/dev/null
  [ "$(dpkg-deb -f "$tmp/out.deb" Version)" = "$version" ] || die "the repacked deb does not have version $version"
  deb="$dir/istio-sidecar_${version}_amd64.deb"
  mv "$tmp/out.deb" "$deb"
  rm -rf "$tmp"
  find "$dir" -maxdepth 1 \( -name '.built-*' -o -name '*.deb' \) ! -name "$(basename "$deb")" -delete
  echo "$deb" >"$stamp"
  log "built $deb"
fi
cat "$stamp"
}
exit
