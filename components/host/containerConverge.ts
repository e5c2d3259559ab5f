// The script both container runtimes start their container with (the istio-proxy container, the envoy runtime's
// Envoy): keep the container when its digest label matches the declared one (start it again if it stopped),
// otherwise replace it; then wait for its readiness URL, failing early when the container exits, with its last
// log lines. Prints one JSON line: `{"action":"created|started|unchanged","containerId":…,"state":…}`.
import { CONFIG_DIGEST_LABEL } from "./proxyContainer";
import { shellQuote } from "./shell";

export interface ContainerConvergeSteps {
  /** The container's name (checked by the caller). */
  name: string;
  digest: string;
  /** The readiness URL the probe asks. */
  url: string;
  /** Shell lines that (re)create the container, after the old one is removed. */
  create: string[];
  /** Shell lines of the probe's last resort, when the VM has neither curl nor wget (`  elif …` or `  else …`). */
  probeFallback: string[];
  /** Whole seconds, already formatted. */
  timeout: string;
  /** What the failure message calls the container ("proxy container", "Envoy container"). */
  what: string;
  /** Log lines shown when it is not ready, already formatted. */
  logLines: string;
}

export function containerConvergeScript(s: ContainerConvergeSteps): string {
  return [
    "set -eu",
    `name=${shellQuote(s.name)}`,
    `want=${shellQuote(s.digest)}`,
    `url=${shellQuote(s.url)}`,
    `current=$(docker inspect --format '{{ index .Config.Labels "${CONFIG_DIGEST_LABEL}" }}' "$name" 2>/dev/null || true)`,
    `running=$(docker inspect --format '{{ .State.Running }}' "$name" 2>/dev/null || true)`,
    `if [ -n "$current" ] && [ "$current" = "$want" ]; then`,
    `  if [ "$running" = true ]; then action=unchanged; else docker start "$name" >/dev/null; action=started; fi`,
    "else",
    `  docker rm --force "$name" >/dev/null 2>&1 || true`,
    ...s.create,
    "  action=created",
    "fi",
    "probe() {",
    `  if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null --max-time 2 "$url" >/dev/null 2>&1`,
    `  elif command -v wget >/dev/null 2>&1; then wget -q -O /dev/null -T 2 "$url" >/dev/null 2>&1`,
    ...s.probeFallback,
    "}",
    `deadline=$(( $(date +%s) + ${s.timeout} ))`,
    "until probe; do",
    `  state=$(docker inspect --format '{{ .State.Status }}' "$name" 2>/dev/null || echo missing)`,
    `  if [ "$(date +%s)" -ge "$deadline" ] || [ "$state" = exited ] || [ "$state" = dead ] || [ "$state" = missing ]; then`,
    `    echo "mesh-vm: ${s.what} $name not ready at $url after ${s.timeout}s (state: $state); last log lines:" >&2`,
    `    docker logs --tail ${s.logLines} "$name" 2>&1 | sed 's/^/  | /' >&2 || true`,
    "    exit 1",
    "  fi",
    "  sleep 1",
    "done",
    `id=$(docker inspect --format '{{ .Id }}' "$name")`,
    `state=$(docker inspect --format '{{ .State.Status }}' "$name")`,
    `printf '{"action":"%s","containerId":"%s","state":"%s"}\\n' "$action" "$id" "$state"`,
  ].join("\n");
}
