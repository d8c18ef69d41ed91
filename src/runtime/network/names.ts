/**
 * How a run's network namespaces are named: `weft-<runId>-hub` for the bridge, `weft-<runId>-<index>` for
 * each workload instance. The prefix is how cleanup finds everything a run made (and only that), so the
 * run id is restricted to a short lowercase token that cannot contain the separator.
 */

/** A run id: 1–8 lowercase letters or digits (short enough for interface names, no `-`). */
const RUN_ID = /^[a-z0-9]{1,8}$/;

export function validateRunId(runId: string): void {
  if (!RUN_ID.test(runId)) {
    throw new Error(`invalid run id ${JSON.stringify(runId)}: use 1–8 lowercase letters or digits`);
  }
}

/** A fresh random run id (6 characters of [a-z0-9]). */
export function createRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export function runPrefix(runId: string): string {
  validateRunId(runId);
  return `weft-${runId}-`;
}

export function hubNetnsName(runId: string): string {
  return `${runPrefix(runId)}hub`;
}

export function instanceNetnsName(runId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 99_999) {
    throw new Error(`invalid instance index ${index}: use an integer from 0 to 99999`);
  }
  return `${runPrefix(runId)}${index}`;
}

/** The bridge in the hub namespace that every instance's veth attaches to. */
export const HUB_BRIDGE = 'wbr0';
