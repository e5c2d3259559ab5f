// Containers on a test host, from podman's inspect output, in Docker's vocabulary.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { ContainerInfo } from "./types";

export interface PodmanInspect {
  Id: string;
  Name: string;
  ImageName?: string;
  Image: string;
  Args?: string[];
  State: { Status: string; ExitCode: number; Pid?: number };
  HostConfig: { RestartPolicy?: { Name?: string }; NetworkMode?: string };
  Mounts?: { Source: string; Destination: string; RW: boolean }[];
  Config: { Env?: string[] };
}

export function toContainerInfo(c: PodmanInspect): ContainerInfo {
  const env: Record<string, string> = {};
  for (const e of c.Config.Env ?? []) {
    const i = e.indexOf("=");
    env[i < 0 ? e : e.slice(0, i)] = i < 0 ? "" : e.slice(i + 1);
  }
  return {
    id: c.Id,
    name: c.Name,
    image: c.ImageName ?? c.Image,
    state: c.State.Status,
    exitCode: c.State.ExitCode,
    restartPolicy: c.HostConfig.RestartPolicy?.Name || "no",
    networkMode: c.HostConfig.NetworkMode ?? "",
    mounts: (c.Mounts ?? []).map((m) => ({ source: m.Source, destination: m.Destination, readOnly: !m.RW })),
    env,
    args: c.Args ?? [],
    pid: c.State.Pid ?? 0,
  };
}

export /** Ids of the host's containers: podman keeps them on the host's own (upper) layer. */
function containerIds(dir: string): string[] {
  try {
    return readdirSync(join(dir, "upper/var/lib/containers/storage/vfs-containers")).filter((id) =>
      /^[0-9a-f]{64}$/.test(id),
    );
  } catch {
    return [];
  }
}
