// Sidecar for a VM proxy running without iptables (interception NONE): ingress listeners forward to the
// application's `defaultEndpoint`, egress listeners bind an address the application points /etc/hosts at.
import type { ResolvedMeshVm } from "./settings";
import { objectMeta, SidecarObject, SidecarSpec } from "./objects";

type IngressListener = NonNullable<SidecarSpec["ingress"]>[number];
type EgressListener = NonNullable<SidecarSpec["egress"]>[number];

export function renderSidecarSpec(vm: ResolvedMeshVm): SidecarSpec {
  const spec: SidecarSpec = {};
  if (vm.egress.length > 0) {
    spec.egress = vm.egress.map((e) => {
      const l: EgressListener = { hosts: [...e.hosts] };
      if (e.bind !== undefined) l.bind = e.bind;
      if (e.port !== undefined) l.port = { ...e.port };
      if (e.captureMode !== undefined) l.captureMode = e.captureMode as EgressListener["captureMode"];
      return l;
    });
  }
  if (vm.ports.length > 0) {
    spec.ingress = vm.ports.map((p): IngressListener => ({
      defaultEndpoint: p.defaultEndpoint,
      port: { name: p.name, number: p.number, protocol: p.protocol },
    }));
  }
  if (vm.sidecar.outboundTrafficPolicyMode !== undefined) {
    spec.outboundTrafficPolicy = {
      mode: vm.sidecar.outboundTrafficPolicyMode as NonNullable<SidecarSpec["outboundTrafficPolicy"]>["mode"],
    };
  }
  spec.workloadSelector = { labels: { ...vm.sidecar.selectorLabels } };
  return spec;
}

export function renderSidecar(vm: ResolvedMeshVm): SidecarObject {
  return {
    apiVersion: vm.apiVersion,
    kind: "Sidecar",
    metadata: objectMeta(vm.sidecar.name, vm.namespace),
    spec: renderSidecarSpec(vm),
  };
}
