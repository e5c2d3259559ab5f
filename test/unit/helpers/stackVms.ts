// The `mesh-vm:vms` entries the stack configuration tests share: one VM over SSH (a pinned host key, root preparing
// the host with a test key), its fields and its `host` overridden per test, and the raw configuration Pulumi would
// hand the program (kubeconfig and vms stored as secrets, as `pulumi config set --secret` does).
import type { RawStackConfig } from "../../../components/stack/config";
import { testPrivateKeyPem } from "../../../scripts/testbed/keys";
import { KUBECONFIG } from "../fixtures/kubeconfig";

export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";

/** A VM named `name` (label app=name, one HTTP port 9080), with `fields` over the defaults and `host` merged in. */
export function configuredVm(
  name: string,
  fields: Record<string, unknown> = {},
  host: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    namespace: "bookinfo",
    address: "198.51.100.10",
    serviceAccount: "sa",
    labels: { app: name },
    ports: [{ name: "http", number: 9080 }],
    ...fields,
    host: {
      hostKey: TEST_HOST_KEY,
      prepare: { admin: { user: "root", privateKey: testPrivateKeyPem() } },
      ...host,
    },
  };
}

/** The raw stack configuration of `vms`, with the test kubeconfig and `extra` keys (`mesh-vm:` prefixed). */
export function rawStackConfig(vms: unknown[], extra: Record<string, string> = {}): RawStackConfig {
  return {
    stack: "dev",
    values: { "mesh-vm:kubeconfig": KUBECONFIG, "mesh-vm:vms": JSON.stringify(vms), ...extra },
    secretKeys: new Set(["mesh-vm:kubeconfig", "mesh-vm:vms"]),
    env: {},
  };
}
