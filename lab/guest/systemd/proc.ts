import * as fs from 'node:fs';

/** A process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  pgrp: number;
  session: number;
  state: string;
  comm: string;
  /** utime + stime, clock ticks */
  cpuTicks: number;
  rssBytes: number;
  threads: number;
}

const PAGE = 4096;
export const CLK_TCK = 100;

export function readProc(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const f = stat
    .slice(close + 2)
    .trim()
    .split(' ');
  return {
    pid,
    state: f[0],
    pgrp: Number(f[2]),
    session: Number(f[3]),
    comm,
    cpuTicks: Number(f[11]) + Number(f[12]),
    rssBytes: Number(f[21]) * PAGE,
    threads: Number(f[17]) || 1,
  };
}

/** Live (non-zombie) processes whose process group or session is one of `groups` — the unit's "cgroup". */
export function processesIn(groups: Iterable<number>): ProcInfo[] {
  const set = new Set(groups);
  if (set.size === 0) return [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const p = readProc(Number(e));
    if (!p || p.state === 'Z' || p.state === 'X') continue;
    if (set.has(p.pgrp) || set.has(p.session)) out.push(p);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

export function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return !!p && p.state !== 'Z' && p.state !== 'X';
}

export function cmdline(pid: number): string {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0$/, '').split('\0').join(' ');
  } catch {
    return '';
  }
}

export function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export function sendSignal(pid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
