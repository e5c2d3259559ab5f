// A program whose MeshVm input is an Output holding an invalid value: run by meshVm.test.ts in a child process.
// Prints each registration; the validation error must end the process before any child is registered.
import { registrations } from "./pulumiMocks";
import * as pulumi from "@pulumi/pulumi";
import { MeshVm } from "../../../components";
import { ratingsVmArgs } from "../fixtures/ratings";

process.on("exit", () => {
  for (const r of registrations) console.log(`registered ${r.name} ${r.type}`);
});
new MeshVm("bad-async", { ...ratingsVmArgs, proxyInstanceIp: pulumi.output("10.128.0.300") });
