// One VM onboarded by a Pulumi project through the `pulumi` CLI (the example's and the user's project's suites): a
// cluster with the workload's namespace and ServiceAccount, one test host, the project copied with a `dev` stack
// whose configuration holds the host's address and keys (plain) and the kubeconfig and admin key (secrets, on
// stdin). stop() destroys the stack, then removes the project copy, the host and the cluster.
import { startCluster, type TestCluster } from "./cluster";
import { cliProject, type CliProject } from "./cli";
import { createHosts, type TestHost } from "./hosts";

export interface CliVm {
  cluster: TestCluster;
  host: TestHost;
  cli: CliProject;
  stop(): Promise<void>;
}

export async function startCliVm(opts: {
  namespace: string;
  serviceAccount: string;
  /** The test host's name. */
  hostName: string;
  /** The project to copy (see cliProject): its directory, files and node_modules. */
  project: { from: string; files: string[]; nodeModules: string };
  /** The project's plain configuration, from the host. */
  config: (host: TestHost) => Record<string, string>;
}): Promise<CliVm> {
  let cluster: TestCluster | undefined;
  let host: TestHost | undefined;
  let cli: CliProject | undefined;
  const stop = async () => {
    if (cli) {
      await cli.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      cli.dispose();
    }
    if (host) await host.destroy();
    if (cluster) await cluster.stop();
  };
  try {
    cluster = await startCluster();
    await cluster.createNamespace(opts.namespace);
    await cluster.createServiceAccount(opts.namespace, opts.serviceAccount);
    [host] = await createHosts([{ name: opts.hostName, networks: ["vm"] }]);
    if (!host) throw new Error(`no test host ${opts.hostName}`);
    cli = await cliProject({ ...opts.project, stack: "dev" });
    await cli.setPlain(opts.config(host));
    await cli.setSecret("kubeconfig", cluster.kubeconfig);
    await cli.setSecret("adminPrivateKey", host.adminPrivateKey);
    return { cluster, host, cli, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
