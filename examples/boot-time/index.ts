// Boot-time delivery: the ratings VM is created in this program and joins the mesh as it boots, from
// MeshVm's `userData` (cloud-init). Nothing connects to the VM over SSH; `up` waits until the proxy answers on
// its status port (15021) before it registers the WorkloadEntry and ServiceEntry.
//
// `Instance` below stands for your provider's VM resource; with @pulumi/aws it is exactly:
//
//   const vm = new aws.ec2.Instance("ratings-vm", {
//     ami, instanceType: "t3.small", subnetId, privateIp: address,
//     userData: ratings.userData.apply((u) => u!),   // secret: it carries the bootstrap token
//     userDataReplaceOnChange: true,                // new user data means a new first boot
//   });
//
// (GCE: `metadata: { "user-data": ratings.userData }`; vSphere: guestinfo.userdata, base64.) The example
// keeps a small stand-in so that `npm run check` type-checks it without a cloud provider's SDK; the test bed
// cannot create cloud VMs and boots a local test host from the same user data (test/e2e/bootDelivery.test.ts).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshVm } from "mesh-vm";

/** The shape of a cloud provider's instance resource, as far as this example uses it. */
interface InstanceArgs {
  privateIp: pulumi.Input<string>;
  /** cloud-init user data, read by the VM at its first boot. */
  userData: pulumi.Input<string>;
}

/** Stand-in for aws.ec2.Instance / gcp.compute.Instance / vsphere.VirtualMachine (see above). */
class Instance extends pulumi.ComponentResource {
  public readonly privateIp: pulumi.Output<string>;
  constructor(name: string, args: InstanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("example:index:Instance", name, {}, opts);
    this.privateIp = pulumi.output(args.privateIp);
    this.registerOutputs({ privateIp: this.privateIp });
  }
}

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const address = config.require("address");
const provider = new k8s.Provider("cluster", { kubeconfig });

const ratings = new MeshVm(
  "ratings-vm",
  {
    namespace: "bookinfo",
    address,
    serviceAccount: "bookinfo-ratings",
    labels: { app: "ratings", version: "v3" },
    ports: [{ name: "http", number: 9080 }],
    boot: {
      kubeconfig,
      proxyImageTag: config.require("proxyImageTag"),
      egressHostnames: ["reviews.bookinfo.svc"],
      // The token only has to last until the VM's first boot; the agent then renews its own certificate.
      token: { expirationSeconds: 3600 },
      // This machine polls http://<address>:15021/healthz/ready before registering the VM; set
      // `readyCheck: { enabled: false }` when it cannot reach the VM (see the README).
      readyCheck: { timeoutSeconds: 900 },
    },
  },
  { providers: [provider] },
);

const vm = new Instance("ratings-vm", {
  privateIp: address,
  userData: ratings.userData.apply((u) => u!),
});

export const identity = ratings.spiffeId;
export const instanceIp = vm.privateIp;
export const startScript = ratings.boot.apply((b) => b!.startScript);
export const tokenExpiry = ratings.bootTokenExpiry;
export const userData = ratings.userData; // secret: `pulumi stack output --show-secrets userData`
