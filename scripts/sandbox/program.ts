// The program the sandbox stack runs: the root program's own function (root index.ts exports the same
// call). Inline, so it runs in this process: the toolchain here has no Node.js language host.
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { onboardFromConfig } from "../../components/stack/program";

export const sandboxProgram: PulumiFn = async () => ({ ...onboardFromConfig() });
