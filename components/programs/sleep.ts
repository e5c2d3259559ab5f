// Sleeps MESH_VM_DELAY seconds: VmBoot's deregistration delay on destroy, run by local.Command as
// `node -e <text>` (see ../localProgram.ts).
setTimeout(() => undefined, Number(process.env.MESH_VM_DELAY || "0") * 1000);
