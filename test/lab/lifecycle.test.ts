import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { labDown, labStatus, labUp } from '../../lab/lab';
import { startLab, stopLab, type Lab } from '../support/lab';

function mountNamespaces(): Map<number, string> {
  const namespaces = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      namespaces.set(Number(entry), readlinkSync(`/proc/${entry}/ns/mnt`));
    } catch {
      // exited while we looked
    }
  }
  return namespaces;
}

/** The given processes and all their descendants: a lab's, not the other labs' this shared machine may run. */
function descendantsOf(roots: number[]): Set<number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  const found = new Set(roots);
  for (let grown = true; grown;) {
    grown = false;
    for (const [pid, parent] of parents) {
      if (!found.has(pid) && found.has(parent)) {
        found.add(pid);
        grown = true;
      }
    }
  }
  return found;
}

describe('lab up and down', () => {
  let lab: Lab;
  afterAll(() => stopLab(lab)); // when an assertion failed half-way

  it('brings up 3 guests, is idempotent, and leaves nothing behind when it goes down', async () => {
    const before = new Set(mountNamespaces().values());
    const hostMountsBefore = readFileSync('/proc/self/mountinfo', 'utf8');
    lab = await startLab({ guests: 3 });

    const status = await labStatus(lab.labDir);
    expect(status.up).toBe(true);
    expect(status.guests.map((g) => [g.vmid, g.running, g.agent])).toEqual([
      [105, true, true],
      [106, true, true],
      [107, true, true],
    ]);
    const labProcesses = descendantsOf([lab.nodes[0].pid, ...lab.guests.map((guest) => guest.initPid)]);
    const labNamespaces = new Set(
      [...mountNamespaces()].filter(([pid, ns]) => labProcesses.has(pid) && !before.has(ns)).map(([, ns]) => ns),
    );
    expect(labNamespaces.size).toBeGreaterThanOrEqual(4); // the node and three guests

    // up again: the same machines, nothing restarted; other options are refused, not silently ignored
    await expect(labUp({ ...lab.options, guests: 2 }, lab.labDir)).rejects.toThrow(/other options is up/);
    const again = await labUp(lab.options, lab.labDir);
    expect(again.guests.map((g) => g.initPid)).toEqual(lab.guests.map((g) => g.initPid));
    expect(again.nodes[0].pid).toBe(lab.nodes[0].pid);

    await labDown(lab.labDir);
    await labDown(lab.labDir); // twice is safe
    const leftover = [...mountNamespaces().entries()].filter(([, ns]) => labNamespaces.has(ns));
    expect(leftover).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(hostMountsBefore);
    expect(readdirSync(lab.labDir)).toEqual([]); // labDown keeps only the (now empty) directory itself
    expect((await labStatus(lab.labDir)).up).toBe(false);
  }, 900_000);
});
