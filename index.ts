// The root Pulumi program: onboards the VMs listed in the stack configuration (`mesh-vm:*` keys in
// Pulumi.<stack>.yaml; see the stack configuration in docs/reference.md). The program itself lives in
// components/stack/ so that inline Automation API programs (the sandbox, the tests) run the same code.
import { onboardFromConfig } from "./components/stack/program";

export = onboardFromConfig();
