/**
 * What the relay process costs, read from /proc: CPU time of all its threads (main,
 * verify and match workers, LMDB's) and resident memory. CPU time is far less noisy
 * than a rate on a shared machine, so every scenario reports CPU per unit of work.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of the whole process, in microseconds (resolution one clock tick, 10 ms). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) / clockTicks()) * 1e6;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Peak resident set size in bytes over the process's life so far (VmHWM, the kernel's high-water mark). */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Proportional set size in bytes (smaps_rollup): file pages mapped several times count once.
 * RSS counts them once per mapping, and lmdb-js keeps its older, smaller maps of the database
 * when it grows the map, so without a `[data] map_size` RSS counts much of the database twice.
 */
export function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // the process has exited
  }
}

/** CPU microseconds `pid` spends while `work` runs. */
export async function measureCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuUs: number; wallMs: number }> {
  const c0 = cpuMicros(pid);
  const t0 = performance.now();
  const result = await work();
  const wallMs = performance.now() - t0;
  return { result, cpuUs: cpuMicros(pid) - c0, wallMs };
}
