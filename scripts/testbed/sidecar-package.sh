#!/usr/bin/env bash
# Builds (once per Istio module version) the `istio-sidecar` deb the `package` runtime's tests install: the
# release .deb (storage.googleapis.com/istio-release/...) cannot be downloaded here, so it is made the way
# Istio's own packaging makes it (tools/packaging/packaging.mk of the pinned istio.io/istio module, read from
# the Go module cache at build time, never copied into this repo):
#   /usr/local/bin/pilot-agent                the agent scripts/istio.sh built from that module   (Istio's)
#   /usr/local/bin/istio-start.sh             tools/packaging/common/istio-start.sh                (Istio's)
#   /lib/systemd/system/istio.service         tools/packaging/common/istio.service                 (Istio's)
#   /var/lib/istio/envoy/sidecar.env          tools/packaging/common/sidecar.env + one stand-in line (conffile)
#   /var/lib/istio/envoy/envoy_bootstrap_tmpl.json  tools/packaging/common/envoy_bootstrap.json    (conffile)
#   postinst                                  tools/packaging/postinst.sh                          (Istio's)
#   Depends: iproute2, iptables, sudo, hostname; version by packaging.mk's rule from the module's VERSION-dev.
# The stand-ins: Envoy is not a Go program and is not built here, so /usr/local/bin/envoy is a script that
# says so and fails, and sidecar.env ends with DISABLE_ENVOY=true: the agent runs as in the real-agent tests
# (test/harness/istiod.ts's agent image) — it does the CSR with istiod, writes its certificates and serves
# its status port, without Envoy.
#
#   scripts/testbed/sidecar-package.sh [build]  ensure the deb, print its path
#   scripts/testbed/sidecar-package.sh path     print its path if built, else fail (tests never build it)
#
# Cache: $MESH_VM_CACHE/istio-sidecar/<istio module version>/istio-sidecar_<version>_amd64.deb.
# Needs: scripts/istio.sh build first (pilot-agent), go (module cache), dpkg-deb, jq.
set -euo pipefail
# One compound command: bash reads it whole, so editing this file mid-run is safe.
{

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

eval "$("$MESH_VM_ROOT/scripts/istio.sh" env)"
agent="$MESH_VM_PILOT_AGENT"
module_version="$(cat "$(dirname "$agent")/../module-version" 2>/dev/null || true)"
[ -x "$agent" ] && [ -n "$module_version" ] ||
  die "pilot-agent is not built ($agent); build it with: scripts/istio.sh build"

dir="$MESH_VM_CACHE/istio-sidecar/$module_version"
# A change to this script makes a new package (same name and version: the cache entry is replaced).
script_key="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
stamp="$dir/.built-$script_key"

if [ "${1:-}" = path ]; then
  deb="$(cat "$stamp" 2>/dev/null || true)"
  [ -n "$deb" ] && [ -f "$deb" ] ||
    die "the istio-sidecar package is not built (in $dir); build it with: scripts/testbed/sidecar-package.sh (part of the set-up of scripts/test.sh e2e)"
  echo "$deb"
  exit 0
fi

mkdir -p "$MESH_VM_CACHE"
exec 9>"$MESH_VM_CACHE/.istio-sidecar.lock"
flock 9

if [ ! -f "$stamp" ] || [ ! -f "$(cat "$stamp")" ]; then
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
  go_proxy_env istio.io/istio
  src=$(cd /tmp && go mod download -json "istio.io/istio@$module_version" | jq -r .Dir)
  pkg="$src/tools/packaging"
  for f in postinst.sh packaging.mk common/istio-start.sh common/istio.service common/sidecar.env common/envoy_bootstrap.json; do
    [ -f "$pkg/$f" ] || die "istio.io/istio@$module_version has no tools/packaging/$f"
  done
  # packaging.mk: PACKAGE_VERSION is $(VERSION) with a leading word- and the first '-' removed; a dev build's
  # VERSION is the VERSION file's content + "-dev" (Makefile.core.mk).
  version="$(printf '%s-dev' "$(cat "$src/VERSION")" | sed 's/^[a-z]*-//' | sed 's/-//')"
  tmp=$(new_tmp "$dir")
  root="$tmp/root"
  install -d "$root/DEBIAN" "$root/usr/local/bin" "$root/lib/systemd/system" "$root/var/lib/istio/envoy"
  install -m 0755 "$agent" "$root/usr/local/bin/pilot-agent"
  install -m 0755 "$pkg/common/istio-start.sh" "$root/usr/local/bin/istio-start.sh"
  install -m 0644 "$pkg/common/istio.service" "$root/lib/systemd/system/istio.service"
  install -m 0644 "$pkg/common/envoy_bootstrap.json" "$root/var/lib/istio/envoy/envoy_bootstrap_tmpl.json"
  {
    cat "$pkg/common/sidecar.env"
    printf '\n# mesh-vm test bed stand-in: no Envoy build here (see /usr/local/bin/envoy); the agent runs without it.\nDISABLE_ENVOY=true\n'
  } >"$root/var/lib/istio/envoy/sidecar.env"
  chmod 0644 "$root/var/lib/istio/envoy/sidecar.env"
  cat >"$root/usr/local/bin/envoy" <<'SH'
#!/bin/sh
# mesh-vm test bed stand-in for Envoy (not built here): the agent runs with DISABLE_ENVOY=true.
echo "envoy: mesh-vm test bed stand-in, no Envoy in this istio-sidecar package" >&2
exit 1
SH
  chmod 0755 "$root/usr/local/bin/envoy"
  install -m 0755 "$pkg/postinst.sh" "$root/DEBIAN/postinst"
  printf '%s\n' /var/lib/istio/envoy/envoy_bootstrap_tmpl.json /var/lib/istio/envoy/sidecar.env >"$root/DEBIAN/conffiles"
  # The fields fpm writes for packaging.mk's deb/fpm target.
  cat >"$root/DEBIAN/control" <<EOF
Package: istio-sidecar
Version: $version
License: Apache
Vendor: istio.io
Architecture: amd64
Maintainer: istio@istio.io
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: iproute2, iptables, sudo, hostname
Section: default
Priority: optional
Homepage: http://istio.io
Description: Istio Sidecar
 Built by mesh-vm's test bed from istio.io/istio@$module_version tools/packaging (Envoy is a stand-in).
EOF
  deb="$dir/istio-sidecar_${version}_amd64.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$tmp/out.deb" >/dev/null
  dpkg-deb --info "$tmp/out.deb" >/dev/null
  mkdir -p "$dir"
  mv "$tmp/out.deb" "$deb"
  rm -rf "$tmp"
  rm -f "$dir"/.built-*
  echo "$deb" >"$stamp"
  log "built $deb"
fi
cat "$stamp"
}
exit
