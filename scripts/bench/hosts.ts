// Times creating and destroying 1 and 10 test VM hosts, cold and warm, and prints a table.
//   node --import tsx scripts/bench/hosts.ts            warm and cold
//   node --import tsx scripts/bench/hosts.ts --scratch  also the first build into an empty cache
//                                                      (debootstrap + apt inside; minutes)
// cold  = the prepared host tree is rebuilt from the cached bookworm tarball and the page cache is
//         dropped first (what a machine with a restored cache sees);
// warm  = prepared tree in the cache, nothing dropped (every run after the first).
// A host counts as created once its sshd listens; each host is checked with one SSH command.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildHostTree,
  createHosts,
  destroyHosts,
  leftovers,
  resetHostTree,
  type HostSpec,
} from "../testbed/hosts";

const cacheDir = (): string =>
  process.env.MESH_VM_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "mesh-vm");

interface Row {
  scenario: string;
  hosts: number;
  createS: number;
  destroyS: number;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function dropPreparedTrees(): void {
  const dir = join(cacheDir(), "rootfs");
  for (const entry of readdirSync(dir))
    if (entry.startsWith("host-")) rmSync(join(dir, entry), { recursive: true });
  execFileSync("sync");
  writeFileSync("/proc/sys/vm/drop_caches", "3\n");
  resetHostTree();
}

// `build`: the tree is (re)built inside the timed create, as the set-up phase would before the first host.
async function measure(scenario: string, count: number, build = false): Promise<Row> {
  const specs: HostSpec[] = Array.from({ length: count }, (_, i) => ({
    name: `bench${i + 1}`,
    networks: [i % 2 === 0 ? "vm" : "second"],
  }));
  let start = process.hrtime.bigint();
  if (build) await buildHostTree();
  const hosts = await createHosts(specs);
  const createS = seconds(start);
  const checks = await Promise.all(hosts.map((h) => h.exec("hostname")));
  checks.forEach((r, i) => {
    if (r.stdout.trim() !== specs[i]!.name) throw new Error(`host ${specs[i]!.name} answered ${r.stdout}`);
  });
  start = process.hrtime.bigint();
  await destroyHosts(hosts);
  const destroyS = seconds(start);
  const left = await leftovers();
  if (left.netns.length + left.mounts.length + left.processes.length > 0) {
    throw new Error(`left behind: ${JSON.stringify(left)}`);
  }
  const row = { scenario, hosts: count, createS, destroyS };
  console.error(`  ${scenario} ${count}: create ${createS.toFixed(2)}s, destroy ${destroyS.toFixed(2)}s`);
  return row;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  if (process.argv.includes("--scratch")) {
    const scratch = mkdtempSync(join(tmpdir(), "mesh-vm-bench-cache-"));
    const saved = process.env.MESH_VM_CACHE;
    process.env.MESH_VM_CACHE = scratch;
    try {
      resetHostTree();
      rows.push(await measure("scratch (empty cache: debootstrap)", 1, true));
    } finally {
      if (saved === undefined) delete process.env.MESH_VM_CACHE;
      else process.env.MESH_VM_CACHE = saved;
      rmSync(scratch, { recursive: true, force: true });
      resetHostTree();
    }
  }
  for (const count of [1, 10]) {
    dropPreparedTrees();
    rows.push(await measure("cold (tree from tarball)", count, true));
    rows.push(await measure("warm", count));
  }
  const header = ["scenario", "hosts", "create (s)", "destroy (s)"];
  const lines = rows.map((r) => [r.scenario, String(r.hosts), r.createS.toFixed(2), r.destroyS.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of lines) console.log(fmt(l));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
