// Fixed Node programs that VmBoot runs with `local.Command` (`node -e <text>`), on the machine running Pulumi.
// Their text is constant, so it never causes a diff; what varies arrives in the environment (nothing secret)
// or on stdin (secret), never on a command line.

/**
 * Polls MESH_VM_READY_URL until it answers 200, for at most MESH_VM_READY_TIMEOUT seconds (every 2 s, 3 s per
 * attempt). Prints `{"ready":true,"seconds":…}`; on timeout, exits 1 naming the URL and the last answer.
 */
export const READY_CHECK_PROGRAM = `"use strict";
const url = process.env.MESH_VM_READY_URL, timeout = Number(process.env.MESH_VM_READY_TIMEOUT || "900");
const client = require(url.startsWith("https:") ? "node:https" : "node:http");
const started = Date.now();
let last = "no answer yet";
function again() {
  if (Date.now() - started > timeout * 1000) {
    process.stderr.write("mesh-vm: the proxy is not ready at " + url + " after " + timeout + "s (last: " + last +
      "). The VM may still be booting (see /var/log/cloud-init-output.log on it), or this machine cannot reach " +
      "that address: set boot.readyCheck.url to one it can reach, or boot.readyCheck.enabled: false to register " +
      "without waiting\\n");
    process.exit(1);
  }
  setTimeout(probe, 2000);
}
function probe() {
  const req = client.get(url, { timeout: 3000, rejectUnauthorized: false }, (res) => {
    res.resume();
    if (res.statusCode === 200) {
      process.stdout.write(JSON.stringify({ ready: true, seconds: Math.round((Date.now() - started) / 1000) }));
      process.exit(0);
    }
    last = "HTTP " + res.statusCode;
    again();
  });
  req.on("timeout", () => req.destroy(new Error("timed out")));
  req.on("error", (e) => { last = e.code || e.message; again(); });
}
probe();
`;

/** Sleeps MESH_VM_DELAY seconds (the deregistration delay on destroy). */
export const SLEEP_PROGRAM = `setTimeout(() => undefined, Number(process.env.MESH_VM_DELAY || "0") * 1000);`;

/**
 * Writes the bundle: stdin is `{"dir":…,"files":[{"path","mode","content"}]}`; each file is written to a temp
 * file with its mode, then renamed. Prints the SHA-256 of each file, never its content.
 */
export const WRITE_BUNDLE_PROGRAM = `"use strict";
const fs = require("node:fs"), path = require("node:path"), crypto = require("node:crypto");
let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => { text += d; });
process.stdin.on("end", () => {
  const bundle = JSON.parse(text);
  const digests = {};
  for (const f of bundle.files) {
    const dst = path.join(bundle.dir, f.path);
    fs.mkdirSync(path.dirname(dst), { recursive: true, mode: 0o755 });
    const tmp = dst + ".mesh-vm." + process.pid;
    fs.writeFileSync(tmp, f.content, { mode: parseInt(f.mode, 8) });
    fs.chmodSync(tmp, parseInt(f.mode, 8));
    fs.renameSync(tmp, dst);
    digests[f.path] = crypto.createHash("sha256").update(f.content).digest("hex");
  }
  process.stdout.write(JSON.stringify(digests));
});
`;

/** Removes the bundle's files (MESH_VM_BUNDLE_DIR, MESH_VM_BUNDLE_FILES: a JSON list), then empty directories. */
export const REMOVE_BUNDLE_PROGRAM = `"use strict";
const fs = require("node:fs"), path = require("node:path");
const dir = process.env.MESH_VM_BUNDLE_DIR, files = JSON.parse(process.env.MESH_VM_BUNDLE_FILES || "[]");
const dirs = new Set();
for (const f of files) {
  fs.rmSync(path.join(dir, f), { force: true });
  for (let d = path.dirname(f); d !== "."; d = path.dirname(d)) dirs.add(d);
}
for (const d of [...dirs].sort((a, b) => b.length - a.length).concat(["."])) {
  try { fs.rmdirSync(path.join(dir, d)); } catch { /* not empty or gone */ }
}
`;
