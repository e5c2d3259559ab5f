// The README's first command, as a user runs it: `scripts/sandbox.sh up` starts the test bed detached
// and onboards the seeds' ratings example with the repository's root program through the real `pulumi`
// CLI (Node.js language host); the objects are in the cluster (read with the kubeconfig it wrote), both
// proxies are ready on their hosts, both WorkloadEntries registered, and the printed guide's commands
// work as printed; a second `up` changes nothing; `down` leaves no process, port, namespace, mount,
// container or file behind, and is safe to run again.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { hostTraces, type HostTraces } from "../../scripts/testbed/hosts";
import {
  assertSandboxGone,
  assertUpChangedNothing,
  kubeGet,
  removeTempSandbox,
  repoRoot,
  sandbox,
  sandboxState,
  shell,
  tempSandbox,
  type KubeObject,
  type Run,
  type TempSandbox,
} from "./sandboxCli";
import type { SandboxState } from "../../scripts/sandbox/state";

describe("the local sandbox (scripts/sandbox.sh)", { timeout: 15 * 60_000 }, () => {
  let sb: TempSandbox | undefined;
  let dir = "";
  let up: Run | undefined;
  let state: SandboxState | undefined;
  let traces: HostTraces | undefined;

  before(async () => {
    sb = await tempSandbox("mesh-vm-sandbox-test-");
    dir = sb.dir;
  });

  after(() => removeTempSandbox(sb));

  it("up starts the test bed and onboards the ratings example through the pulumi CLI; the objects are in the cluster", async () => {
    up = await sandbox(dir, "up");
    assert.equal(up.code, 0, `sandbox up failed:\n${up.output}`);
    state = sandboxState(dir);
    traces = hostTraces(state.hosts.map((h) => h.id));
    const kubeconfig = join(dir, "kubeconfig");
    assert.equal(readFileSync(kubeconfig, "utf8").includes("token"), true);

    // The root program ran through the CLI: the project's main leads back to the repository's index.ts.
    assert.match(up.output, /\[sandbox\] pulumi preview --stack sandbox --non-interactive/);
    assert.match(up.output, /\[sandbox\] pulumi up --yes .*--stack sandbox --non-interactive/);
    const project = parse(readFileSync(join(dir, "project", "Pulumi.yaml"), "utf8")) as KubeObject;
    assert.equal(resolve(dir, "project", project.main as string), join(repoRoot, "index.ts"));
    assert.equal(
      readFileSync(join(dir, "project", "node_modules", "@pulumi", "pulumi", "package.json")).length > 0,
      true,
    );

    const byName = (name: string) => state!.hosts.find((h) => h.name === name)!;
    const we = async (name: string) =>
      kubeGet(kubeconfig, `/apis/networking.istio.io/v1/namespaces/bookinfo/workloadentries/${name}`);
    const a = await we("ratings-vm");
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.spec.address, byName("ratings-vm").addresses.vm);
    assert.equal(a.body.spec.serviceAccount, "bookinfo-ratings");
    assert.equal(a.body.spec.labels.app, "ratings");
    const b = await we("ratings-vm-2");
    assert.equal(b.status, 200, JSON.stringify(b.body));
    // Segregated: public address, private proxy instance IP (as the seeds' annotation), own network.
    assert.equal(b.body.spec.address, byName("ratings-vm-2").addresses.second);
    assert.equal(b.body.spec.network, "vm-network");
    assert.equal(
      b.body.metadata.annotations["sidecar-bootstrap.istio.io/proxy-instance-ip"],
      byName("ratings-vm-2").addresses.vm,
    );
    const sidecar = await kubeGet(
      kubeconfig,
      "/apis/networking.istio.io/v1/namespaces/bookinfo/sidecars/bookinfo-ratings-no-iptables",
    );
    assert.equal(sidecar.status, 200, JSON.stringify(sidecar.body));
    assert.equal(sidecar.body.spec.ingress[0].port.number, 9080);
    const entries = await kubeGet(
      kubeconfig,
      "/apis/networking.istio.io/v1/namespaces/bookinfo/serviceentries",
    );
    assert.deepEqual((entries.body.items as KubeObject[]).map((e) => e.metadata.name as string).sort(), [
      "ratings-vm",
      "ratings-vm-2",
    ]);

    // The guide: where to look (its commands work as printed) and how to tear down.
    assert.match(up.output, /export KUBECONFIG=.*kubeconfig/);
    const curl = up.output.split("\n").find((l) => l.trim().startsWith("curl -s --cacert"));
    assert.ok(curl, `prints an API curl example:\n${up.output}`);
    const listed = await shell(curl!.trim());
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, /"name": "ratings-vm-2"/);
    const sshLines = up.output
      .split("\n")
      .map((l) => l.replace(/^\s*ratings-vm(-2)?: /, "").trim())
      .filter((l) => l.startsWith("ssh ") && l.endsWith("sudo docker ps"));
    assert.equal(sshLines.length, 2, `prints an ssh command per host:\n${up.output}`);
    for (const ssh of sshLines) {
      const ps = await shell(`${ssh.replace(/^ssh /, "ssh -o BatchMode=yes ")}`);
      assert.equal(ps.code, 0, `${ssh}: ${ps.output}`);
      assert.match(ps.output, /istio-proxy/);
    }
    const curlReady = up.output
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("curl -s http://") && l.endsWith(":15021/healthz/ready"));
    assert.equal(curlReady.length, 2, `prints a readiness curl per host:\n${up.output}`);
    for (const c of curlReady) {
      const r = await shell(`${c} -o /dev/null -w '%{http_code}'`);
      assert.equal(r.output.trim(), "200", `${c}: ${r.output}`);
    }
    // The pulumi commands, as printed (toolchain env, passphrase file, -C the project dir).
    const pulumiSetup = up.output.split("\n").find((l) => l.includes('eval "$(scripts/toolchain.sh env)"'));
    const stackOutput = up.output
      .split("\n")
      .find((l) => /^\s*pulumi -C .* stack output --stack sandbox/.test(l));
    assert.ok(pulumiSetup && stackOutput, `prints the pulumi commands:\n${up.output}`);
    const outputs = await shell(`${pulumiSetup!.trim()}; ${stackOutput!.trim()} --json`);
    assert.equal(outputs.code, 0, outputs.output);
    const vms = (JSON.parse(outputs.output) as KubeObject).vms as KubeObject;
    assert.deepEqual(Object.keys(vms).sort(), ["ratings-vm", "ratings-vm-2"]);
    for (const name of ["ratings-vm", "ratings-vm-2"])
      assert.equal(vms[name].proxy.containerState, "running");
    assert.match(up.output, /scripts\/sandbox\.sh down/);
    assert.doesNotMatch(up.output, /SKIPPED|skipped/);
  });

  it("both proxies are ready on their hosts and both WorkloadEntries registered, and up says so", async () => {
    assert.ok(state, "up recorded its test bed");
    for (const h of state!.hosts) {
      // ratings-vm's address, ratings-vm-2's proxy instance IP: both on the VM network.
      const at = h.addresses.vm;
      const r = await fetch(`http://${at}:15021/healthz/ready`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(r.status, 200, `proxy on ${h.name} ready at ${at}`);
    }
    for (const name of ["ratings-vm", "ratings-vm-2"]) {
      assert.match(up!.output, new RegExp(`proxy on ${name}: READY `));
      assert.match(up!.output, new RegExp(`WorkloadEntry bookinfo/${name}: registered`));
    }
    assert.match(up!.output, /both VMs onboarded: proxies ready, WorkloadEntries registered/);
  });

  it("a second up reuses the test bed and changes nothing; status says what runs", async () => {
    const again = await sandbox(dir, "up");
    assert.equal(again.code, 0, again.output);
    assertUpChangedNothing(again.output);
    const status = await sandbox(dir, "status");
    assert.equal(status.code, 0, status.output);
    assert.match(status.output, /cluster: running/);
    assert.match(status.output, /WorkloadEntry\/ratings-vm, WorkloadEntry\/ratings-vm-2/);
    assert.match(status.output, /host ratings-vm: running/);
    assert.match(status.output, /host ratings-vm-2: running/);
    assert.match(status.output, /proxy on ratings-vm: READY/);
    assert.match(status.output, /proxy on ratings-vm-2: READY/);
  });

  it("down removes every process, port, namespace, mount, container and file; a second down is a no-op", async () => {
    assert.ok(state?.cluster && traces, "up recorded its test bed");
    const down = await sandbox(dir, "down");
    sb!.downDone = true;
    assert.equal(down.code, 0, down.output);
    assert.match(down.output, /pulumi destroy --yes .*--stack sandbox --non-interactive/);
    assert.doesNotMatch(down.output, /pulumi destroy (failed|timed out|could not run)/);
    await assertSandboxGone(dir, state!, traces!);
  });
});
