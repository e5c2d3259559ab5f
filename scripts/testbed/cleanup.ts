// Tears down test VM hosts whose test process is gone (killed or crashed), then reports anything
// still left on the machine (network namespaces, host mounts, host processes, container cgroups).
// Exits 1 if something is left. Usage: node --import tsx scripts/testbed/cleanup.ts
import { destroyStaleHosts, leftovers } from "./hosts";

async function main(): Promise<void> {
  const destroyed = destroyStaleHosts();
  if (destroyed > 0) console.log(`tore down ${destroyed} stale test host(s)`);
  const left = await leftovers("machine");
  const count = Object.values(left).reduce((n, items) => n + items.length, 0);
  if (count > 0) {
    console.error(`left behind: ${JSON.stringify(left, null, 2)}`);
    process.exit(1);
  }
  console.log("no test hosts left: no namespace, mount, sshd, container or cgroup");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
