// The `hosts` file istioctl writes: one line mapping istiod's in-cluster name to the address the VM reaches it
// on (the east-west gateway's, or --ingressIP); empty when that address is not an IP (istioctl warns).
import { isIP } from "node:net";
import { istiodHost, type ConfigureOptions } from "./workloadGroupSource";

export function renderHostsLine(
  gatewayAddress: string,
  options: Pick<ConfigureOptions, "istioNamespace" | "revision">,
): string {
  return isIP(gatewayAddress) ? `${gatewayAddress} ${istiodHost(options)}\n` : "";
}
