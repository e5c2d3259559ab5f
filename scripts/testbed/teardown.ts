// A suite's after(), whatever its tests left: the stacks first (their destroy needs the hosts and the cluster, and
// may fail where a test broke something on purpose, so it is best effort), then the hosts, then the cluster.
import type { TestCluster } from "./cluster";
import { destroyHosts, type TestHost } from "./hosts";
import type { TestStack } from "./pulumi";

export async function tearDown(parts: {
  stacks?: (TestStack | undefined)[];
  hosts?: (TestHost | undefined)[];
  cluster?: TestCluster;
}): Promise<void> {
  for (const s of parts.stacks ?? []) {
    if (!s) continue;
    await s.destroy().catch(() => undefined);
    await s.dispose();
  }
  const hosts = (parts.hosts ?? []).filter((h): h is TestHost => h !== undefined);
  if (hosts.length) await destroyHosts(hosts);
  if (parts.cluster) await parts.cluster.stop();
}
