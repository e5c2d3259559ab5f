// The envoy runtime's data path with named stand-ins (scripts/testbed/envoy-validate/standin; none is Envoy or
// Istio): a client that does exactly what the rendered cluster says (SNI, ALPN, certificate, root and SAN rule
// read from the rendered envoy.yaml and its SDS files), a passthrough gateway that routes on the SNI and Istio's
// ALPN set as gateway.go's AUTO_PASSTHROUGH chains do, and a sidecar that requires a client certificate of the
// trust domain. Both workload certificates are issued by the real istiod (the VM's and the destination's), with
// the certificate program mesh-vm runs. Proven: the rendered cluster gets through and is identified as the VM;
// offering istio-peer-exchange corrupts the stream; a wrong SAN, no Istio ALPN or an unknown SNI fail. Not
// proven: that Envoy itself behaves as the client does (no Envoy binary here).
import assert from "node:assert/strict";
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { EnvoyRuntimeArgs, envoyPaths, resolveEnvoySettings } from "../../components/runtime/envoyArgs";
import { envoyBootstrapYaml, upstreamSni } from "../../components/runtime/envoyBootstrap";
import { certificateSdsYaml, rootSdsYaml } from "../../components/runtime/envoySds";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { envoyStandinPath, validateEnvoyFiles } from "../../scripts/testbed/envoyValidator";
import { istioBinaries, type Istiod } from "../../scripts/testbed/istiod";
import { startMeshDestination } from "../../scripts/testbed/envoyStandins";
import { issueFromIstiod } from "../../scripts/testbed/istiodCertificate";

const VM = {
  trustDomain: "cluster.local",
  namespace: "vms",
  name: "dev-laptop",
  serviceAccount: "dev-laptop",
};
const REVIEWS = {
  host: "reviews.bookinfo.svc.cluster.local",
  port: 9080,
  serviceAccount: "bookinfo-reviews",
  localPort: 9080,
};

describe(
  "envoy runtime: the data path through stand-ins, with certificates from the real istiod",
  { timeout: 10 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let istiod: Istiod;
    let work = "";
    const procs: ChildProcess[] = [];
    let gatewayPort = 0;
    const material: Record<string, { key: string; chain: string }> = {};

    const issue = (namespace: string, serviceAccount: string, audiences?: string[]) =>
      issueFromIstiod(cluster!, istiod, work, namespace, serviceAccount, audiences);

    /** Lays the rendered files out under a fresh root, as on the VM; `edit` changes the parsed envoy.yaml first. */
    function renderVm(
      args: Partial<EnvoyRuntimeArgs>,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      edit?: (doc: any) => void,
    ): { root: string; config: string } {
      const s = resolveEnvoySettings(
        { gatewayAddress: "127.0.0.1", gatewayPort, upstreams: [REVIEWS], ...args },
        VM,
      );
      const p = envoyPaths(s.configDir);
      let config = envoyBootstrapYaml(s);
      if (edit) {
        const doc = parse(config);
        edit(doc);
        config = stringify(doc);
      }
      const files = [
        { path: p.config, content: config },
        { path: p.certificateSds, content: certificateSdsYaml(p) },
        { path: p.rootSds, content: rootSdsYaml(p) },
        { path: p.certChain, content: material.vm!.chain },
        { path: p.key, content: material.vm!.key },
        { path: p.root, content: istiod.rootCertPem },
      ];
      if (!edit)
        assert.deepEqual(
          validateEnvoyFiles(files, p.config).problems,
          [],
          "the rendered files pass Envoy's API rules",
        );
      const root = mkdtempSync(join(work, "vm-"));
      for (const f of files) {
        mkdirSync(dirname(join(root, f.path)), { recursive: true });
        writeFileSync(join(root, f.path), f.content);
      }
      return { root, config: join(root, p.config) };
    }

    function client(vm: { root: string; config: string }, cluster: string) {
      const r = spawnSync(
        envoyStandinPath(),
        [
          "client",
          "--config",
          vm.config,
          "--root",
          vm.root,
          "--cluster",
          cluster,
          "--send",
          "ratings please",
        ],
        {
          encoding: "utf8",
          timeout: 30_000,
        },
      );
      return {
        status: r.status,
        stderr: r.stderr,
        out: r.status === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined,
      };
    }

    before(async () => {
      istioBinaries();
      envoyStandinPath();
      work = mkdtempSync(join(tmpdir(), "envoy-datapath-"));
      cluster = await startCluster({ istiod: { address: "127.0.0.1" } });
      istiod = cluster.istiod!;
      for (const [ns, sa] of [
        [VM.namespace, VM.serviceAccount],
        ["bookinfo", "bookinfo-reviews"],
      ] as const) {
        await cluster.createNamespace(ns);
        await cluster.createServiceAccount(ns, sa);
      }
      material.vm = issue(VM.namespace, VM.serviceAccount);
      const reviews = issue("bookinfo", "bookinfo-reviews");
      gatewayPort = await startMeshDestination(
        procs,
        work,
        { ...reviews, rootCertPem: istiod.rootCertPem },
        upstreamSni(REVIEWS),
      );
    });

    after(async () => {
      for (const p of procs) p.kill("SIGKILL");
      if (cluster) await cluster.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    for (const protocol of ["TCP", "HTTP", "HTTP2"] as const) {
      it(`the rendered ${protocol} cluster reaches the destination through the gateway, mTLS end to end, as the VM`, () => {
        const vm = renderVm({ upstreams: [{ ...REVIEWS, protocol }] });
        const r = client(vm, upstreamSni(REVIEWS));
        assert.equal(r.status, 0, r.stderr);
        assert.equal(
          r.out!.answer,
          "hello spiffe://cluster.local/ns/vms/sa/dev-laptop, you said ratings please",
        );
        assert.deepEqual(r.out!.peerUris, ["spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews"]);
        assert.equal(
          r.out!.negotiatedProtocol,
          { TCP: "istio", HTTP: "istio-http/1.1", HTTP2: "istio-h2" }[protocol],
        );
      });
    }

    it("offering istio-peer-exchange gets a metadata-exchange frame into the stream: the application's bytes are corrupted", () => {
      const vm = renderVm({}, (d) => {
        d.static_resources.clusters[0].transport_socket.typed_config.common_tls_context.alpn_protocols.unshift(
          "istio-peer-exchange",
        );
      });
      const r = client(vm, upstreamSni(REVIEWS));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.out!.negotiatedProtocol, "istio-peer-exchange");
      assert.notEqual(
        r.out!.answer,
        "hello spiffe://cluster.local/ns/vms/sa/dev-laptop, you said ratings please",
      );
      assert.ok(String(r.out!.answer).startsWith("\u003d\u0023\u0004\u0067"), JSON.stringify(r.out!.answer));
    });

    it("istiod refuses a token of another audience, and the program says so without the token", () => {
      const error = (() => {
        try {
          issue(VM.namespace, VM.serviceAccount, ["not-istio-ca"]);
          return "";
        } catch (e) {
          return (e as Error).message;
        }
      })();
      assert.match(
        error,
        /^mesh-vm certificate: istiod at 127\.0\.0\.1:\d+ \(istiod\.istio-system\.svc\) refused CreateCertificate: UNAUTHENTICATED: .+; the token must be a TokenRequest token of audience istio-ca/,
      );
      assert.doesNotMatch(error, /eyJhbGciOi/);
    });

    it("a wrong destination SAN is refused by the client's exact URI-SAN match", () => {
      const vm = renderVm({ upstreams: [{ ...REVIEWS, serviceAccount: "bookinfo-ratings" }] });
      const r = client(vm, upstreamSni(REVIEWS));
      assert.notEqual(r.status, 0);
      assert.match(
        r.stderr,
        /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-reviews\] match none of the cluster's match_typed_subject_alt_names/,
      );
    });

    it("the gateway drops a client without Istio's ALPN, and an SNI it does not know", () => {
      const noAlpn = renderVm({}, (d) => {
        d.static_resources.clusters[0].transport_socket.typed_config.common_tls_context.alpn_protocols = [
          "h2",
          "http/1.1",
        ];
      });
      const r1 = client(noAlpn, upstreamSni(REVIEWS));
      assert.notEqual(r1.status, 0);
      assert.match(r1.stderr, /TLS handshake with 127\.0\.0\.1:\d+ .*: EOF/);
      const other = renderVm({ upstreams: [{ ...REVIEWS, port: 9081 }] });
      const r2 = client(other, upstreamSni({ ...REVIEWS, port: 9081 }));
      assert.notEqual(r2.status, 0);
      assert.match(r2.stderr, /TLS handshake .*: EOF/);
    });
  },
);
