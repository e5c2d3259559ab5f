// VmBoot's ready check, run by local.Command as `node -e <text>` on the machine running Pulumi (see
// ../localProgram.ts): polls MESH_VM_READY_URL until it answers 200, for at most MESH_VM_READY_TIMEOUT seconds
// (every 2 s, 3 s per attempt). Prints `{"ready":true,"seconds":…}`; on timeout, exits 1 naming the URL and the
// last answer.
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";

const url = process.env.MESH_VM_READY_URL ?? "";
const timeout = Number(process.env.MESH_VM_READY_TIMEOUT || "900");
const started = Date.now();
let last = "no answer yet";

function again(): void {
  if (Date.now() - started > timeout * 1000) {
    process.stderr.write(
      "mesh-vm: the proxy is not ready at " +
        url +
        " after " +
        timeout +
        "s (last: " +
        last +
        "). The VM may still be booting (see /var/log/cloud-init-output.log on it), or this machine cannot reach " +
        "that address: set boot.readyCheck.url to one it can reach, or boot.readyCheck.enabled: false to register " +
        "without waiting\n",
    );
    process.exit(1);
  }
  setTimeout(probe, 2000);
}

function answered(res: IncomingMessage): void {
  res.resume();
  if (res.statusCode === 200) {
    process.stdout.write(JSON.stringify({ ready: true, seconds: Math.round((Date.now() - started) / 1000) }));
    process.exit(0);
  }
  last = "HTTP " + res.statusCode;
  again();
}

function probe(): void {
  const options = { timeout: 3000, rejectUnauthorized: false };
  const req = url.startsWith("https:") ? httpsGet(url, options, answered) : httpGet(url, options, answered);
  req.on("timeout", () => req.destroy(new Error("timed out")));
  req.on("error", (e: NodeJS.ErrnoException) => {
    last = e.code || e.message;
    again();
  });
}

probe();
