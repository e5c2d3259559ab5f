// Mesh truth: the seeds' ratings VM onboarded with the real engine over real SSH, against a real istiod
// (pilot-discovery on the test cluster) and with the real Istio agent (pilot-agent, no Envoy) in the proxy
// container on the test host. Nothing here checks mesh-vm's output against our reading of Istio: istiod
// must list the WorkloadEntry with the VM's address and SPIFFE identity, and the agent, started only from
// mesh-vm's sidecar.env, token, root certificate, mounts and docker run arguments, must get a certificate
// for spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings that chains to istiod's root, keep its identity
// once the bootstrap token is gone, and a token istiod refuses must fail `up` with the agent's own words.
//
// istiod's secure gRPC port listens on the vm test network's gateway (the machine's end of the hosts'
// bridge); the VM reaches it as istiod.istio-system.svc through host.gatewayAddress, like a real VM reaches
// istiod through the east-west gateway. Everything else istiod serves is on loopback.
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, type TestHost } from "../../scripts/testbed/hosts";
import {
  endpointDropped,
  listedEndpoint,
  installAgentImage,
  istiodTestBedMissing,
  networkGateway,
  type Istiod,
} from "../../scripts/testbed/istiod";
import {
  AGENT_READINESS as READINESS,
  CONFIG_DIR,
  meshVmProgram,
  NS,
  SA,
  vmOn,
  type Knobs,
  type Vm,
} from "../../scripts/testbed/meshVmStack";
import { createTestStack, errors, type TestStack } from "../../scripts/testbed/pulumi";
import { poll } from "../../scripts/testbed/poll";
import { tearDown } from "../../scripts/testbed/teardown";

const SPIFFE = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
const CERTS = `${CONFIG_DIR}/certs`;

/** A VM and the knobs its stack runs with. */
type VmCase = Vm & { knobs: Knobs };

describe(
  "a real istiod accepts the onboarded VM and a real Istio agent gets its certificate",
  { timeout: 30 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let istiod: Istiod;
    let hosts: TestHost[] = [];
    let image = "";
    const stacks: TestStack[] = [];
    let good: VmCase;
    let bad: VmCase;

    const program = (c: VmCase) => meshVmProgram(cluster!, [c], c.knobs);

    before(async () => {
      const missing = istiodTestBedMissing();
      if (missing.length > 0) throw new Error(`the test bed is incomplete:\n- ${missing.join("\n- ")}`);
      // Hosts first: istiod listens on their network's gateway, which exists once a host is on it.
      hosts = await createHosts([
        { name: "istiod-ratings", networks: ["vm"] },
        { name: "istiod-refused", networks: ["vm"] },
      ]);
      cluster = await startCluster({ istiod: { address: networkGateway("vm") } });
      istiod = cluster.istiod!;
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      image = await installAgentImage(hosts[0]!);
      await installAgentImage(hosts[1]!);
      good = { ...vmOn("ratings-vm", hosts[0]!), knobs: { agentImage: image, readinessTimeoutSeconds: 120 } };
      bad = {
        ...vmOn("ratings-vm-refused", hosts[1]!),
        knobs: { agentImage: image, tokenAudiences: ["not-istio-ca"], readinessTimeoutSeconds: 20 },
      };
    });

    after(() => tearDown({ stacks, hosts, cluster }));

    let issued: X509Certificate;

    it("up succeeds, and istiod lists the WorkloadEntry with the VM's address and SPIFFE identity", async () => {
      const stack = await createTestStack({ program: program(good), projectName: "mesh-vm-istiod-e2e" });
      stacks.push(stack);
      const up = await stack.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      assert.equal(up.result.outputs[`${good.name}.spiffeId`]?.value, SPIFFE);

      const endpoint = await listedEndpoint(istiod, good.host.address);
      assert.equal(endpoint.ServiceAccount ?? endpoint.serviceAccount, SPIFFE, JSON.stringify(endpoint));
      assert.equal(endpoint.WorkloadName ?? endpoint.workloadName, good.name, JSON.stringify(endpoint));
      assert.equal(endpoint.Namespace ?? endpoint.namespace, NS, JSON.stringify(endpoint));
    });

    it("the agent on the host holds a certificate for the VM's identity, chained to istiod's root", async () => {
      const h = good.host;
      const chain = await h.readFile(`${CERTS}/cert-chain.pem`);
      const key = await h.readFile(`${CERTS}/key.pem`);
      const root = new X509Certificate(istiod.rootCertPem);
      issued = leafOf(chain);
      // mesh-vm delivered istiod's root (istio-ca-root-cert as istiod published it).
      assert.equal(await h.readFile(`${CONFIG_DIR}/istio-ca.pem`), istiod.rootCertPem);
      // The root beside the certificates: mesh-vm's copy, which the agent rewrites (without the final newline)
      // now that it is a file and not a read-only mount.
      assert.equal(
        new X509Certificate(await h.readFile(`${CERTS}/root-cert.pem`)).fingerprint256,
        root.fingerprint256,
      );
      assert.doesNotMatch(await h.containerLogs("istio-proxy"), /\terror\t/, "the agent logged no error");
      assert.equal(issued.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(issued.checkIssued(root) && issued.verify(root.publicKey), "signed by istiod's root");
      const now = Date.now();
      assert.ok(Date.parse(issued.validFrom) <= now && now < Date.parse(issued.validTo), "currently valid");
      assert.ok(issued.checkPrivateKey(createPrivateKey(key)), "key.pem is the certificate's key");
      // The agent itself says it is ready (it answers 503 until it has certificates).
      const ready = await h.run(
        `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${READINESS.port}${READINESS.path}`,
      );
      assert.equal(ready.stdout.trim(), "200");
    });

    it("with the token deleted, the restarted agent renews its identity with its own certificate", async () => {
      const h = good.host;
      await h.run(`rm -f ${CONFIG_DIR}/istio-token`);
      await h.run("docker restart --time 2 istio-proxy >/dev/null");
      const renewed = await poll("a new certificate after the restart", 60_000, async () => {
        const chain = await h.readFile(`${CERTS}/cert-chain.pem`).catch(() => "");
        if (!chain) return undefined;
        const leaf = leafOf(chain);
        return leaf.serialNumber !== issued.serialNumber ? leaf : undefined;
      });
      const root = new X509Certificate(istiod.rootCertPem);
      assert.equal(renewed.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(renewed.checkIssued(root) && renewed.verify(root.publicKey), "signed by istiod's root");
      assert.ok(renewed.checkPrivateKey(createPrivateKey(await h.readFile(`${CERTS}/key.pem`))));
      await poll("the restarted agent to be ready", 30_000, async () => {
        const r = await h.run(
          `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${READINESS.port}${READINESS.path}`,
          { check: false },
        );
        return r.stdout.trim() === "200" ? true : undefined;
      });
      assert.equal(await h.exists(`${CONFIG_DIR}/istio-token`), false, "no token on the host");
    });

    it("a token istiod refuses (wrong audience) fails up at the readiness wait, with the agent's log lines", async () => {
      const stack = await createTestStack({
        program: program(bad),
        projectName: "mesh-vm-istiod-refused-e2e",
      });
      stacks.push(stack);
      const failure = await stack.up().then(
        () => undefined,
        (error: unknown) => String(error),
      );
      assert.ok(failure, "up failed");
      assert.match(
        failure,
        /proxy container istio-proxy not ready at http:\/\/127\.0\.0\.1:15020\/healthz\/ready/,
      );
      // The agent's own lines, quoted from `docker logs`: it could not get a certificate.
      assert.match(failure, /\| .*failed to get certificate: .*request authenticate failure/);
      const we = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${bad.name}`,
      );
      assert.equal(we.status, 404, "not registered: the proxy never got ready");
      // istiod says why.
      const refusedAt = new RegExp(
        `Failed to authenticate client from ${bad.host.address.replace(/\./g, "\\.")}:\\d+: .*`,
      );
      const why = refusedAt.exec(await istiod.log());
      assert.ok(why, "istiod logged the refused client");
      assert.match(why[0], /audience/i, why[0]);
      assert.equal(await bad.host.exists(`${CERTS}/cert-chain.pem`), false, "no certificate issued");
    });

    it("destroy deregisters the VM from istiod", async () => {
      const [stack] = stacks;
      const down = await stack!.destroy();
      assert.equal(down.result.summary.result, "succeeded", errors(down.events).join("\n"));
      await endpointDropped(istiod, good.host.address);
    });
  },
);
