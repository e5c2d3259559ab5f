// The root program with a VM that has `host`, under the host mocks: the summary reports the proxy (state,
// container, image, token expiry, hosts block) and stays readable, and the admin private key and the
// kubeconfig's credentials reach the resources only as secrets.
import { isSecretValue, registrations } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { onboardFromConfig } from "../../../components/stack/program";
import { testPrivateKeyPem } from "../../../scripts/testbed/keys";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const ADMIN_KEY = testPrivateKeyPem();
const pemBody = (pem: string): string => pem.split("\n")[1]!;

/** Where `needle` appears outside a secret wrapper, as paths. */
function plainOccurrences(value: unknown, needle: string, path = ""): string[] {
  if (isSecretValue(value)) return [];
  if (typeof value === "string") return value.includes(needle) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainOccurrences(v, needle, `${path}[${i}]`));
  if (typeof value === "object" && value !== null)
    return Object.entries(value).flatMap(([k, v]) => plainOccurrences(v, needle, `${path}.${k}`));
  return [];
}

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

describe("onboardFromConfig with host", () => {
  pulumi.runtime.setAllConfig(
    {
      "mesh-vm:kubeconfig": KUBECONFIG,
      "mesh-vm:vms": JSON.stringify([
        {
          name: "ratings-vm",
          namespace: "bookinfo",
          address: "198.51.100.10",
          serviceAccount: "bookinfo-ratings",
          labels: { app: "ratings", version: "v3" },
          ports: [{ name: "http", number: 9080 }],
          host: {
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
            prepare: { admin: { user: "root", privateKey: ADMIN_KEY } },
            proxyImage: "localhost/mesh-vm-standin-proxy:test",
            egressHostnames: ["reviews.bookinfo.svc"],
          },
        },
      ]),
    },
    ["mesh-vm:kubeconfig", "mesh-vm:vms"],
  );
  const out = onboardFromConfig();

  it("summarises the proxy, readable", async () => {
    const vms = await valueOf(out.vms);
    const ratings = vms["ratings-vm"]!;
    assert.deepEqual(ratings.proxy, {
      containerState: "running",
      containerId: "abc123",
      proxyImage: "localhost/mesh-vm-standin-proxy:test",
    });
    assert.equal(ratings.tokenExpiry, "2026-11-23T05:00:00Z");
    assert.match(ratings.hostsBlock ?? "", /127\.0\.0\.2\s+reviews\.bookinfo\.svc/);
    assert.equal(await (out.vms as unknown as { isSecret: Promise<boolean> }).isSecret, false);
  });

  it("hands the admin key and the kubeconfig to the resources only as secrets", () => {
    // The key's base64 body: JSON escapes the PEM's line breaks.
    for (const needle of [pemBody(ADMIN_KEY), "kube-admin-secret"]) {
      const plain = registrations.flatMap((r) =>
        plainOccurrences(r.raw, needle).map((p) => `${r.type} ${r.name}${p}`),
      );
      assert.deepEqual(plain, [], `${needle} in plain text`);
      assert.ok(
        registrations.some((r) => JSON.stringify(r.inputs).includes(needle)),
        `${needle} does reach a resource (as a secret)`,
      );
    }
  });
});
