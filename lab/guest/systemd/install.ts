import * as fs from 'node:fs';
import * as path from 'node:path';

import { LabPaths, UNIT_DIR } from './paths';
import { dropInFiles, loadUnit } from './unit-file';

/** What a systemctl verb prints and returns. */
export interface Output {
  out: string[];
  err: string[];
  code: number;
}

export const newOutput = (): Output => ({ out: [], err: [], code: 0 });

export type UnitFileState = 'enabled' | 'disabled' | 'static' | 'masked' | 'linked' | 'alias' | 'bad' | 'not-found';

const NO_INSTALL_INFO = `The unit files have no installation config (WantedBy=, RequiredBy=, Also=,
Alias= settings in the [Install] section, and DefaultInstance= for template
units). This means they are not meant to be enabled or disabled using systemctl.
 
Possible reasons for having this kind of units are:
• A unit may be statically enabled by being symlinked from another unit's
  .wants/ or .requires/ directory.
• A unit's purpose may be to act as a helper for some other unit which has
  a requirement dependency on it.
• A unit may be started when needed via activation (socket, path, timer,
  D-Bus, udev, scripted systemctl call, ...).
• In case of template units, the unit is meant to be enabled with some
  instance name specified.`;

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function readlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** Directories `<target>.wants` / `<target>.requires` under the unit directory (host paths). */
function dependencyDirs(paths: LabPaths): string[] {
  try {
    return fs
      .readdirSync(paths.unitDir)
      .filter((d) => /\.(wants|requires)$/.test(d))
      .map((d) => path.join(paths.unitDir, d));
  } catch {
    return [];
  }
}

/** The symlinks that enable a unit: entries named like it in any .wants/.requires directory (host paths). */
export function enablementLinks(paths: LabPaths, name: string): string[] {
  return dependencyDirs(paths)
    .map((d) => path.join(d, name))
    .filter((p) => lstat(p)?.isSymbolicLink());
}

/** Units enabled into a target (read at boot): names of the symlinks in `<target>.wants/` and `.requires/`. */
export function wantedUnits(paths: LabPaths): string[] {
  const names = new Set<string>();
  for (const d of dependencyDirs(paths)) {
    try {
      for (const f of fs.readdirSync(d)) names.add(f);
    } catch {
      // vanished
    }
  }
  return [...names].sort();
}

export function unitFileState(paths: LabPaths, name: string): UnitFileState {
  const fragment = path.join(paths.unitDir, name);
  const st = lstat(fragment);
  if (!st) return 'not-found';
  if (st.isSymbolicLink()) {
    const target = readlink(fragment) ?? '';
    if (target === '/dev/null') return 'masked';
    if (path.dirname(target) === UNIT_DIR || !target.includes('/')) return 'alias';
  } else if (st.size === 0) return 'masked';
  const unit = loadUnit(paths, name);
  if (unit.loadState === 'error') return 'bad';
  const c = unit.config;
  const enabled = enablementLinks(paths, name).length > 0;
  if (enabled) return 'enabled';
  if (!c.wantedBy.length && !c.requiredBy.length && !c.alias.length && !c.also.length) {
    return st.isSymbolicLink() ? 'linked' : 'static';
  }
  return 'disabled';
}

function guestUnitPath(name: string): string {
  return `${UNIT_DIR}/${name}`;
}

/** Creates `link` → `target` unless it already points there. Returns false (and reports) on a conflict. */
function makeLink(paths: LabPaths, link: string, target: string, force: boolean, o: Output, verb: string): boolean {
  const st = lstat(link);
  if (st) {
    if (st.isSymbolicLink() && readlink(link) === target) return true;
    if (!force) {
      const what = st.isSymbolicLink() ? ` and is a symlink to ${readlink(link)}` : '';
      o.err.push(`Failed to ${verb} unit: File ${paths.guest(link)} already exists${what}.`);
      o.code = 1;
      return false;
    }
    fs.unlinkSync(link);
    o.err.push(`Removed "${paths.guest(link)}".`);
  }
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(target, link);
  o.err.push(`Created symlink ${paths.guest(link)} → ${target}.`);
  return true;
}

export function enableUnits(paths: LabPaths, names: string[], opts: { force?: boolean } = {}, o = newOutput()): Output {
  const done = new Set<string>();
  let noInstallInfo = false;
  const enableOne = (name: string): boolean => {
    if (done.has(name)) return true;
    done.add(name);
    const state = unitFileState(paths, name);
    if (state === 'not-found') {
      o.err.push(`Failed to enable unit: Unit file ${name} does not exist.`);
      o.code = 1;
      return false;
    }
    if (state === 'masked') {
      o.err.push(`Failed to enable unit: Unit file ${guestUnitPath(name)} is masked.`);
      o.code = 1;
      return false;
    }
    const c = loadUnit(paths, name).config;
    if (!c.wantedBy.length && !c.requiredBy.length && !c.alias.length && !c.also.length) {
      noInstallInfo = true;
      return true;
    }
    const target = guestUnitPath(name);
    for (const t of c.wantedBy)
      if (!makeLink(paths, path.join(paths.unitDir, `${t}.wants`, name), target, !!opts.force, o, 'enable'))
        return false;
    for (const t of c.requiredBy)
      if (!makeLink(paths, path.join(paths.unitDir, `${t}.requires`, name), target, !!opts.force, o, 'enable'))
        return false;
    for (const a of c.alias)
      if (!makeLink(paths, path.join(paths.unitDir, a), target, !!opts.force, o, 'enable')) return false;
    for (const also of c.also) if (!enableOne(also)) return false;
    return true;
  };
  for (const n of names) if (!enableOne(n)) break;
  if (noInstallInfo && o.code === 0) o.err.push(NO_INSTALL_INFO);
  return o;
}

export function disableUnits(paths: LabPaths, names: string[], o = newOutput()): Output {
  const done = new Set<string>();
  const disableOne = (name: string): boolean => {
    if (done.has(name)) return true;
    done.add(name);
    const state = unitFileState(paths, name);
    if (state === 'not-found' && enablementLinks(paths, name).length === 0) {
      o.err.push(`Failed to disable unit: Unit file ${name} does not exist.`);
      o.code = 1;
      return false;
    }
    const c = state === 'masked' || state === 'not-found' ? undefined : loadUnit(paths, name).config;
    const links = enablementLinks(paths, name);
    for (const a of c?.alias ?? []) {
      const p = path.join(paths.unitDir, a);
      if (lstat(p)?.isSymbolicLink() && readlink(p) === guestUnitPath(name)) links.push(p);
    }
    for (const l of links) {
      fs.unlinkSync(l);
      o.err.push(`Removed "${paths.guest(l)}".`);
    }
    for (const also of c?.also ?? []) if (!disableOne(also)) return false;
    return true;
  };
  for (const n of names) if (!disableOne(n)) break;
  return o;
}

export function maskUnits(paths: LabPaths, names: string[], o = newOutput()): Output {
  for (const name of names) {
    const p = path.join(paths.unitDir, name);
    const st = lstat(p);
    if (st && !(st.isSymbolicLink() && readlink(p) === '/dev/null')) {
      o.err.push(`Failed to mask unit: File ${paths.guest(p)} already exists.`);
      o.code = 1;
      return o;
    }
    if (!st) {
      fs.mkdirSync(paths.unitDir, { recursive: true });
      fs.symlinkSync('/dev/null', p);
      o.err.push(`Created symlink ${paths.guest(p)} → /dev/null.`);
    }
  }
  return o;
}

export function unmaskUnits(paths: LabPaths, names: string[], o = newOutput()): Output {
  for (const name of names) {
    const p = path.join(paths.unitDir, name);
    if (lstat(p)?.isSymbolicLink() && readlink(p) === '/dev/null') {
      fs.unlinkSync(p);
      o.err.push(`Removed "${paths.guest(p)}".`);
    }
  }
  return o;
}

export function isEnabled(paths: LabPaths, names: string[], quiet: boolean, o = newOutput()): Output {
  let anyEnabled = false;
  let failed = false;
  for (const name of names) {
    const state = unitFileState(paths, name);
    if (state === 'not-found') {
      o.err.push(`Failed to get unit file state for ${name}: No such file or directory`);
      failed = true;
      continue;
    }
    if (!quiet) o.out.push(state);
    if (['enabled', 'static', 'alias', 'indirect', 'generated'].includes(state)) anyEnabled = true;
  }
  o.code = anyEnabled && !failed ? 0 : 1;
  return o;
}

export function listUnitFiles(
  paths: LabPaths,
  opts: { noLegend?: boolean; patterns?: string[]; states?: string[] },
): Output {
  const o = newOutput();
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(paths.unitDir)
      .filter((f) => /\.(service|target|socket|timer|path|mount)$/.test(f))
      .sort();
  } catch {
    // none
  }
  if (opts.patterns?.length) {
    const res = opts.patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*')}$`));
    names = names.filter((n) => res.some((r) => r.test(n)));
  }
  const rows = names
    .map((n) => {
      const state = unitFileState(paths, n);
      const preset = ['static', 'masked', 'alias', 'linked'].includes(state) ? '-' : 'enabled';
      return [n, state, preset];
    })
    .filter((r) => !opts.states?.length || opts.states.includes(r[1]));
  const header = ['UNIT FILE', 'STATE', 'PRESET'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c))
      .join(' ')
      .trimEnd();
  if (!opts.noLegend) o.out.push(fmt(header));
  for (const r of rows) o.out.push(fmt(r));
  if (!opts.noLegend) o.out.push('', `${rows.length} unit files listed.`);
  return o;
}

export function catUnits(paths: LabPaths, names: string[]): Output {
  const o = newOutput();
  let first = true;
  for (const name of names) {
    const fragment = path.join(paths.unitDir, name);
    const st = lstat(fragment);
    if (st?.isSymbolicLink() && readlink(fragment) === '/dev/null') {
      o.err.push(`Unit ${name} is masked.`);
      o.code = 1;
      continue;
    }
    let text: string;
    try {
      text = fs.readFileSync(fragment, 'utf8');
    } catch {
      o.err.push(`No files found for ${name}.`);
      o.code = 1;
      continue;
    }
    if (!first) o.out.push('');
    first = false;
    o.out.push(`# ${paths.guest(fragment)}`, text.replace(/\n$/, ''));
    for (const d of dropInFiles(paths, name)) {
      o.out.push('', `# ${paths.guest(d)}`, fs.readFileSync(d, 'utf8').replace(/\n$/, ''));
    }
  }
  return o;
}
