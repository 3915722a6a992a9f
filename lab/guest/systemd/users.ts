import * as fs from 'node:fs';

import { LabPaths } from './paths';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function readLines(p: string): string[][] {
  try {
    return fs
      .readFileSync(p, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

export function readPasswd(paths: LabPaths): PasswdEntry[] {
  return readLines(paths.host('/etc/passwd'))
    .filter((f) => f.length >= 7)
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5], shell: f[6] }));
}

export function readGroups(paths: LabPaths): GroupEntry[] {
  return readLines(paths.host('/etc/group'))
    .filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** A user by name or numeric uid, from `LAB_ROOT`/etc/passwd (root is always known, as with nss-systemd). */
export function lookupUser(paths: LabPaths, nameOrUid: string): PasswdEntry | undefined {
  const all = readPasswd(paths);
  const found = /^\d+$/.test(nameOrUid)
    ? all.find((u) => u.uid === Number(nameOrUid))
    : all.find((u) => u.name === nameOrUid);
  if (found) return found;
  if (nameOrUid === 'root' || nameOrUid === '0')
    return { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' };
  if (/^\d+$/.test(nameOrUid))
    return { name: nameOrUid, uid: Number(nameOrUid), gid: Number(nameOrUid), home: '/', shell: '/bin/sh' };
  return undefined;
}

export function lookupGroup(paths: LabPaths, nameOrGid: string): GroupEntry | undefined {
  const all = readGroups(paths);
  const found = /^\d+$/.test(nameOrGid)
    ? all.find((g) => g.gid === Number(nameOrGid))
    : all.find((g) => g.name === nameOrGid);
  if (found) return found;
  if (nameOrGid === 'root' || nameOrGid === '0') return { name: 'root', gid: 0, members: [] };
  if (/^\d+$/.test(nameOrGid)) return { name: nameOrGid, gid: Number(nameOrGid), members: [] };
  return undefined;
}

/** initgroups(): the primary group plus every group that lists the user. */
export function userGroups(paths: LabPaths, user: PasswdEntry): number[] {
  const gids = new Set<number>([user.gid]);
  for (const g of readGroups(paths)) if (g.members.includes(user.name)) gids.add(g.gid);
  return [...gids];
}
