/**
 * Readings from /proc for the process under test and the machine: CPU time of a process tree (utime +
 * stime of the process and all its descendants, so nginx's master and worker count together), memory of
 * that tree (RssAnon and VmRSS from status, Pss from smaps_rollup, summed over the tree), and how busy each
 * core was between two readings, which tells whether the load side (core 1) or the proxy (core 0) was the
 * bottleneck of a max-throughput run.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck: number | undefined;
/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

interface StatLine {
  ppid: number;
  ticks: number;
}

/** Fields after the command name, which is in parentheses and may hold spaces. */
function readStat(pid: number): StatLine | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readStat(pid);
    if (st === undefined) continue;
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [pid]);
    else list.push(pid);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU seconds used so far by the tree (all threads: /proc/<pid>/stat sums them). */
export function treeCpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / clockTicks();
}

/**
 * CPU seconds used so far by the tree's threads, from the scheduler's own clock: the first field of
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds on CPU). utime/stime are sampled at the timer tick (250 Hz
 * here, CONFIG_TICK_CPU_ACCOUNTING), which is unbiased for a busy process but not for one that runs in
 * short bursts between idle periods, as a proxy at a fixed modest rate does. Threads that exited in
 * between are not counted; undefined when the kernel has no schedstat (CONFIG_SCHED_INFO).
 */
export function treeRuntimeSeconds(pids: readonly number[]): number | undefined {
  let ns = 0;
  let found = false;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        found = true;
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return found ? ns / 1e9 : undefined;
}

/** CPU seconds (utime + stime, all threads) of every process now running, by pid. */
export function cpuByProcess(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readStat(pid);
    if (st !== undefined) out.set(pid, st.ticks / clockTicks());
  }
  return out;
}

/**
 * CPU seconds that processes other than `ours` used between two `cpuByProcess` readings (a process that
 * started in between counts from zero; one that ended in between is missed): other work on the machine
 * that disturbed a measurement.
 */
export function othersCpuSeconds(
  before: Map<number, number>,
  after: Map<number, number>,
  ours: ReadonlySet<number>,
): number {
  let s = 0;
  for (const [pid, cpu] of after) {
    if (!ours.has(pid)) s += cpu - (before.get(pid) ?? 0);
  }
  return s;
}

export interface Memory {
  /** Anonymous resident memory (heap, stacks): what the process itself costs. */
  rssAnonMB: number;
  /** VmRSS: resident set including shared file pages (the binary, libraries). */
  rssMB: number;
  /** Proportional set size: shared pages divided among the processes that map them. */
  pssMB: number;
  processes: number;
}

function kbField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** Memory of the tree, summed over its processes (for RSS that double-counts shared pages; PSS does not). */
export function treeMemory(pids: readonly number[]): Memory {
  let anon = 0;
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      anon += kbField(status, 'RssAnon');
      rss += kbField(status, 'VmRSS');
      processes++;
    } catch {
      continue;
    }
    try {
      pss += kbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      // smaps_rollup needs Linux 4.14 and ptrace access to the process; leave PSS at 0 if unreadable.
    }
  }
  const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;
  return { rssAnonMB: mb(anon), rssMB: mb(rss), pssMB: mb(pss), processes };
}

export interface CoreTimes {
  busy: number[];
  total: number[];
}

/** Per-core jiffies from /proc/stat: busy (all but idle and iowait) and total. */
export function readCoreTimes(): CoreTimes {
  const busy: number[] = [];
  const total: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are already inside user/nice).
    const sum = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    busy[Number(m[1])] = sum - idle;
    total[Number(m[1])] = sum;
  }
  return { busy, total };
}

/** Percent busy per core between two readings. */
export function coreBusyPercent(before: CoreTimes, after: CoreTimes): number[] {
  return after.total.map((t, i) => {
    const dt = t - (before.total[i] ?? 0);
    const db = (after.busy[i] ?? 0) - (before.busy[i] ?? 0);
    return dt > 0 ? Math.round((db / dt) * 100) : 0;
  });
}
