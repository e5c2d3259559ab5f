// VmProxy fed from MeshVm's resolved settings and rendered WorkloadEntry (the seeds' segregated ratings VM).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { TOKEN, registrations } from "./helpers/pulumiMocks";
import { resolveMeshVmArgs } from "../../components/meshVmResolve";
import { renderMeshVmObjects } from "../../components/mesh/render";
import { VmProxy } from "../../components/host/vmProxy";
import { vmProxyArgsFromMeshVm } from "../../components/meshVmHost";
import type { WorkloadEntryLike } from "../../components/host/workloadIdentity";

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

describe("vmProxyArgsFromMeshVm", () => {
  it("connects, names and configures the proxy from tctl's bootstrap settings", async () => {
    const settings = resolveMeshVmArgs("ratings-vm", {
      namespace: "bookinfo",
      address: "203.0.113.10",
      serviceAccount: "bookinfo-ratings",
      network: "vm-us-central1-a",
      labels: { app: "ratings", version: "v3" },
      sshHost: "192.0.2.10",
      sshPort: 2222,
      proxyConfigDir: "/etc/istio-proxy",
      proxyImageHub: "docker.io/tetrate",
      proxyInstanceIp: "198.51.100.10",
      proxyContainerName: "ratings-proxy",
      egress: [{ bind: "127.0.0.3", hosts: ["./*"] }],
    });
    const objects = renderMeshVmObjects(settings);
    const start = registrations.length;
    const proxy = new VmProxy(
      "fm",
      vmProxyArgsFromMeshVm(
        pulumi.output(settings),
        pulumi.output(objects.workloadEntry as unknown as WorkloadEntryLike),
        {
          hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
          prepare: { admin: { privateKey: "ADMIN-KEY" } },
          kubeconfig:
            "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n" +
            "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: t}}]\n",
          proxyImageTag: "1.8.6",
          egressHostnames: ["reviews.bookinfo.svc"],
        },
      ),
    );
    assert.equal(
      await valueOf(proxy.hostsBlock),
      "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.3 reviews.bookinfo.svc\n# END mesh-vm bookinfo/ratings-vm\n",
    );
    const env = await valueOf(proxy.sidecarEnv);
    assert.match(env, /^INSTANCE_IP=198\.51\.100\.10$/m);
    assert.match(env, /^IDENTITY_IP=203\.0\.113\.10$/m);
    assert.match(env, /^ISTIO_META_NETWORK=vm-us-central1-a$/m);
    assert.match(env, /^ISTIO_METAJSON_ISTIO_ANNOTATIONS=.*sidecar-bootstrap\.istio\.io\/proxy-instance-ip/m);
    const run = await valueOf(proxy.dockerRunCommand);
    assert.match(run, /--name ratings-proxy /);
    assert.match(run, / docker\.io\/tetrate\/proxyv2:1\.8\.6 /);
    assert.match(run, /--env-file \/etc\/istio-proxy\/sidecar\.env/);
    assert.deepEqual(await valueOf(proxy.sshIdentity), {
      user: "istio-proxy",
      host: "192.0.2.10",
      port: 2222,
      publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGeneratedPublicKey",
    });
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    // The token travels as the last line of the proxy step's bundle (`<sha256> <base64>`).
    const step = registrations.slice(start).find((r) => r.name === "fm-proxy");
    const last = String(step?.inputs.stdin).trimEnd().split("\n").pop()!;
    assert.equal(Buffer.from(last.split(" ")[1]!, "base64").toString(), TOKEN);
  });
});
