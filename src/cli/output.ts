/**
 * Small printing helpers of the operator commands: colours only on a terminal (and never with NO_COLOR),
 * times as UTC to the second, durations as a person reads them ("11h 58m"), and certificate names on one
 * line.
 */
import { stringify } from 'yaml';

export interface Style {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

/** Colours for `stream` when it is a terminal and NO_COLOR is not set; plain text otherwise. */
export function createStyle(stream: NodeJS.WriteStream = process.stdout): Style {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const c = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { green: c(32), yellow: c(33), red: c(31), bold: c(1), dim: c(2) };
}

/** Writes `value` as JSON or YAML (`-o json|yaml`); throws on any other format. */
export function writeStructured(format: string, value: unknown): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(stringify(value));
  else throw new Error(`unknown output format "${format}" (use json or yaml)`);
}

/** `2025-03-01 14:05:09Z`: UTC, to the second. */
export function formatTime(time: Date | string): string {
  const d = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(d.getTime())) return String(time);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A span as a person reads it, two units at most: `3d 4h`, `11h 58m`, `4m 10s`, `12s`. */
export function formatSpan(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s % 60 > 0 ? `${m}m ${s % 60}s` : `${m}m`;
  return `${s}s`;
}

/** `in 11h 58m` or `3d 4h ago`, from `now`. */
export function formatRelative(time: Date | string, now = Date.now()): string {
  const t = typeof time === 'string' ? Date.parse(time) : time.getTime();
  const delta = t - now;
  return delta >= 0 ? `in ${formatSpan(delta)}` : `${formatSpan(delta)} ago`;
}

/** Node prints a distinguished name one `KEY=value` per line; this puts it on one line. */
export function formatName(name: string | null | undefined): string {
  if (!name) return '(empty)';
  return name.split('\n').filter(Boolean).join(', ');
}
