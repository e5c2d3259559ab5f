// The deprecated input names of VmProxy and VmBoot, each with the name that replaced it (README, Reference,
// "Names"): the proxy's account is `sshUser` (tctl's `ssh-user`, MeshVm's input), the image fields are MeshVm's
// `proxyImage*` words, the /etc/hosts names are `egressHostnames`.
import type { InputAlias } from "../rules/aliases";

/** The proxy image, formerly one `image` object (`{ image, hub, imageName, tag }`). */
const proxyImageAliases: readonly InputAlias[] = [
  { old: "image.image", new: "proxyImage" },
  { old: "image.hub", new: "proxyImageHub" },
  { old: "image.imageName", new: "proxyImageName" },
  { old: "image.tag", new: "proxyImageTag" },
];

export const vmProxyAliases: readonly InputAlias[] = [
  { old: "proxyUser", new: "sshUser" },
  ...proxyImageAliases,
  { old: "egressHosts", new: "egressHostnames" },
];

export const vmBootAliases: readonly InputAlias[] = [
  { old: "proxyUser", new: "sshUser" },
  ...proxyImageAliases,
];
