// Process-list samplers for the secret scans: what anyone on the machine or on a host could read in the command
// lines of running processes (`/proc/<pid>/cmdline`, which `ps` shows) while an operation runs.
import { readdirSync, readFileSync } from "node:fs";
import type { TestHost } from "./hosts";

export interface ProcessSampler {
  /** Stops sampling; every sample's command lines, one process a line. */
  stop(): Promise<string>;
}

/** Command lines of every process of the machine running Pulumi (all PID namespaces the machine sees). */
export function localProcessList(): string {
  const lines: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      lines.push(readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " "));
    } catch {
      // the process ended
    }
  }
  return lines.join("\n");
}

/** Samples the machine's command lines every `everyMs` until stopped. */
export function startLocalSampler(everyMs = 100): ProcessSampler {
  const samples: string[] = [localProcessList()];
  const timer = setInterval(() => samples.push(localProcessList()), everyMs);
  return {
    stop() {
      clearInterval(timer);
      samples.push(localProcessList());
      return Promise.resolve(samples.join("\n"));
    },
  };
}

/**
 * Samples the host's full process list (its own PID namespace, `ps -ww`: command lines untruncated) every 100 ms
 * until stopped. The sampler runs inside the host without SSH (no login counted); its PID is kept and killed.
 */
export async function startHostSampler(host: TestHost): Promise<ProcessSampler> {
  const log = `/tmp/mesh-vm-ps-${process.pid}-${Date.now()}.log`;
  const started = await host.run(
    `nohup sh -c 'while :; do ps -ww -eo args >> ${log}; sleep 0.1; done' >/dev/null 2>&1 </dev/null & echo $!`,
  );
  const pid = started.stdout.trim();
  return {
    async stop() {
      await host.run(`kill ${pid}`, { check: false });
      const text = await host.readFile(log).catch(() => "");
      await host.run(`rm -f ${log}`, { check: false });
      return text;
    },
  };
}
