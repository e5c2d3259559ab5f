// The bootstrap token of boot-time delivery: its lifetime trade-off in one place (defaults, bounds, wording),
// used by VmBoot and by validation.
import { tokenDefaults } from "../host/defaults";

/** Default lifetime: the VM is created in the same `up` and boots within minutes; an hour leaves room. */
export const BOOT_TOKEN_DEFAULT_SECONDS = 3600;
/** The API server refuses a TokenRequest below 10 minutes. */
export const BOOT_TOKEN_MIN_SECONDS = 600;
/**
 * At most a day (tctl's default lifetime): the token sits in the VM's user data, readable through the cloud's
 * metadata service and instance APIs for the VM's whole life, and a VM that has not booted within a day
 * should get a fresh token (`token.rotation`) rather than a longer-lived one.
 */
export const BOOT_TOKEN_MAX_SECONDS = 86400;

/** The ready check polled from the machine running Pulumi: long enough to create and boot a VM; at most a day. */
export const bootReadyCheckDefaults = { timeoutSeconds: 900, maxTimeoutSeconds: 86400 } as const;

export function bootTokenDefaults(token: { expirationSeconds?: number; audiences?: string[] } | undefined): {
  expirationSeconds: number;
  audiences: string[];
} {
  const expirationSeconds = token?.expirationSeconds ?? BOOT_TOKEN_DEFAULT_SECONDS;
  if (
    !Number.isInteger(expirationSeconds) ||
    expirationSeconds < BOOT_TOKEN_MIN_SECONDS ||
    expirationSeconds > BOOT_TOKEN_MAX_SECONDS
  ) {
    throw new Error(
      `boot token lifetime must be a whole number of seconds from ${BOOT_TOKEN_MIN_SECONDS} to ${BOOT_TOKEN_MAX_SECONDS} (got ${expirationSeconds})`,
    );
  }
  return { expirationSeconds, audiences: token?.audiences ?? [...tokenDefaults.audiences] };
}
