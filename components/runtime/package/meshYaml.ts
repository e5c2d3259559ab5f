// mesh.yaml (installed as /etc/istio/config/mesh, the agent's mesh config file): `defaultConfig:` and the
// group's ProxyConfig, as istioctl marshals it with sigs.k8s.io/yaml (go-yaml v2 underneath: YAML 1.1, so
// strings such as "on" or "yes" are quoted; sequences not indented; map keys in go-yaml's own order).
import { stringify, type Pair } from "yaml";
import { groupProxyConfigOf } from "./proxyConfig";
import type { ConfigureOptions, WorkloadGroupSource } from "./workloadGroupSource";

const isLetter = (c: string): boolean => /\p{L}/u.test(c);
const isDigit = (c: string): boolean => /\p{Nd}/u.test(c);

/**
 * go-yaml v2's order of string keys (its sorter's keyList.Less): rune by rune; two letters by code point; a
 * non-letter before a letter (so `ISTIO_META_X` comes before `ISTIO_METAJSON_LABELS`); runs of digits by value.
 */
export function goYamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return bl;
    let an = 0;
    let bn = 0;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== "0") {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = an * 10 + (ar[ai]!.charCodeAt(0) - 48);
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = bn * 10 + (br[bi]!.charCodeAt(0) - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

function keyOrder(a: Pair, b: Pair): number {
  const ak = String((a.key as { value?: unknown })?.value ?? a.key);
  const bk = String((b.key as { value?: unknown })?.value ?? b.key);
  return goYamlKeyLess(ak, bk) ? -1 : goYamlKeyLess(bk, ak) ? 1 : 0;
}

export function renderMeshYaml(group: WorkloadGroupSource, options: ConfigureOptions): string {
  return stringify(
    { defaultConfig: groupProxyConfigOf(group, options) },
    { version: "1.1", sortMapEntries: keyOrder, indentSeq: false, lineWidth: 0, singleQuote: null },
  );
}
