// Drives the fleet: reads an inventory, splits it into K shards (by a hash of each VM's name, so a growing
// inventory never moves a VM to another stack), and runs one operation over the mesh stack and the shards, at
// most `--concurrency` shards at once, each in its own `pulumi` process and work directory. Prints one summary
// table; exits 1 naming the stacks that failed. The backend and the secrets passphrase come from the environment
// (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE), as for any pulumi command.
//
//   npx tsx run.ts up --inventory fleet.json --shards 4 --concurrency 2
//
// fleet.json: {"kubeconfig": "...", "gatewayAddress": "203.0.113.1", "adminPrivateKey": "...",
//              "service": {...}, "vms": [{"name": "ratings-vm-1", "address": "10.0.0.11", "hostKey": "ssh-ed25519 ..."}]}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  fleetFailure,
  formatFleetSummary,
  runShardedFleet,
  splitIntoShards,
  type FleetOperation,
} from "mesh-vm";

export interface Inventory {
  kubeconfig: string;
  gatewayAddress: string;
  adminPrivateKey: string;
  service: Record<string, unknown>;
  vms: { name: string; address: string; hostKey: string; sshPort?: number }[];
}

/** The mesh stack and one stack per shard, with their configuration (secrets marked secret). */
export function fleetStacks(inventory: Inventory, shards: number, organization = "organization") {
  const secret = (value: string) => ({ value, secret: true });
  const meshStack = `${organization}/vm-fleet/mesh`;
  return {
    mesh: {
      stackName: "mesh",
      config: {
        "vm-fleet:role": { value: "mesh" },
        "vm-fleet:kubeconfig": secret(inventory.kubeconfig),
        "vm-fleet:gatewayAddress": { value: inventory.gatewayAddress },
      },
    },
    shards: splitIntoShards(inventory.vms, shards).map((vms, k) => ({
      stackName: `shard-${k}`,
      config: {
        "vm-fleet:role": { value: "shard" },
        "vm-fleet:kubeconfig": secret(inventory.kubeconfig),
        "vm-fleet:meshStack": { value: meshStack },
        "vm-fleet:adminPrivateKey": secret(inventory.adminPrivateKey),
        "vm-fleet:service": { value: JSON.stringify(inventory.service) },
        "vm-fleet:vms": { value: JSON.stringify(vms) },
      },
    })),
  };
}

async function main(): Promise<void> {
  const [operation, ...rest] = process.argv.slice(2);
  const flag = (name: string, fallback: string) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 && rest[i + 1] !== undefined ? rest[i + 1]! : fallback;
  };
  if (!["preview", "up", "refresh", "destroy"].includes(operation ?? ""))
    throw new Error(
      "usage: run.ts preview|up|refresh|destroy --inventory FILE [--shards K] [--concurrency C]",
    );
  const inventory = JSON.parse(readFileSync(flag("inventory", "fleet.json"), "utf8")) as Inventory;
  const results = await runShardedFleet({
    projectDir: __dirname,
    workRoot: join(__dirname, ".stacks"),
    operation: operation as FleetOperation,
    concurrency: Number(flag("concurrency", "2")),
    secretsProvider: "passphrase",
    ...fleetStacks(inventory, Number(flag("shards", "4"))),
  });
  console.log(formatFleetSummary(results));
  const failure = fleetFailure(results);
  if (failure) {
    console.error(failure.message);
    process.exit(1);
  }
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
