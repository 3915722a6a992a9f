import { parseMigrateFleetInput } from '../src/fleet/input';
import { InventorySchema } from '../src/inventory';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { parseMigrateVmInput } from '../src/migration/input';
import {
  cutoverBound,
  describeWindow,
  inWords,
  lengthMs,
  localTime,
  nextStart,
  WindowSchema,
  type MaintenanceWindow,
} from '../src/migration/window';
import { HOUR, MINUTE } from '../src/schema';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const window = (w: Record<string, unknown>): MaintenanceWindow => WindowSchema.parse(w);
/** When C may start, when that opening opens and closes, as ISO instants. */
const next = (w: MaintenanceWindow, now: string, needMs: number) => {
  const { at: start, opensAt, closesAt } = nextStart(w, at(now), needMs);
  return [iso(start), iso(opensAt), iso(closesAt)];
};

describe('a maintenance window in a zone without clock changes (Asia/Shanghai, UTC+8)', () => {
  const shanghai = window({ start: '02:00', end: '05:00', timeZone: 'Asia/Shanghai' });

  it('opens next at 02:00 local, and says when as an operator reads it', () => {
    // 22:48 local on the 7th: the next opening is 02:00 on the 8th, 18:00 UTC on the 7th
    const now = at('2026-12-07T14:48:00Z');
    const { at: start } = nextStart(shanghai, now, 30 * MINUTE);
    expect(iso(start)).toBe('2026-12-07T18:00:00.000Z');
    expect(inWords(start - now)).toBe('3 h 12 min');
    expect(localTime('Asia/Shanghai', start)).toBe('2026-12-08 02:00');
    expect(describeWindow(shanghai, start)).toBe('02:00–05:00 Asia/Shanghai (UTC+8)');
  });

  it('lets C start now inside the window while enough is left, else at the next opening', () => {
    // 02:30 local: 2 h 30 min left
    expect(next(shanghai, '2026-12-07T18:30:00Z', 2 * HOUR)).toEqual([
      '2026-12-07T18:30:00.000Z',
      '2026-12-07T18:00:00.000Z',
      '2026-12-07T21:00:00.000Z',
    ]);
    // exactly enough left still starts; a second less than needed waits a day
    expect(next(shanghai, '2026-12-07T18:30:00Z', 150 * MINUTE)[0]).toBe('2026-12-07T18:30:00.000Z');
    expect(next(shanghai, '2026-12-07T18:30:01Z', 150 * MINUTE)[0]).toBe('2026-12-08T18:00:00.000Z');
    // at its close it is closed
    expect(next(shanghai, '2026-12-07T21:00:00Z', 0)[0]).toBe('2026-12-08T18:00:00.000Z');
  });

  it('keeps to its days, and a window past midnight belongs to the day it opens', () => {
    const fridayNight = window({ days: ['fri'], start: '22:00', end: '02:00', timeZone: 'Asia/Shanghai' });
    expect(lengthMs(fridayNight)).toBe(4 * HOUR);
    // Monday 7 Dec 2026, noon local: Friday 11 Dec 22:00 local
    expect(next(fridayNight, '2026-12-07T04:00:00Z', HOUR)).toEqual([
      '2026-12-11T14:00:00.000Z',
      '2026-12-11T14:00:00.000Z',
      '2026-12-11T18:00:00.000Z',
    ]);
    // Saturday 01:00 local: Friday's window is still open, an hour left
    expect(next(fridayNight, '2026-12-11T17:00:00Z', HOUR)[0]).toBe('2026-12-11T17:00:00.000Z');
    expect(next(fridayNight, '2026-12-11T17:00:00Z', HOUR + 1)[0]).toBe('2026-12-18T14:00:00.000Z');
    expect(describeWindow(fridayNight, 0)).toBe('22:00–02:00 Asia/Shanghai (UTC+8), fri');
  });
});

describe('a maintenance window in a zone with daylight saving time (America/New_York)', () => {
  const nightly = window({ start: '01:00', end: '04:00', timeZone: 'America/New_York' });

  it('follows the zone across the change: 01:00 EST is 06:00 UTC, 01:00 EDT 05:00 UTC', () => {
    expect(next(nightly, '2027-03-12T12:00:00Z', HOUR)[0]).toBe('2027-03-13T06:00:00.000Z');
    expect(next(nightly, '2027-03-15T00:00:00Z', HOUR)[0]).toBe('2027-03-15T05:00:00.000Z');
    expect(describeWindow(nightly, at('2027-03-15T05:00:00Z'))).toBe('01:00–04:00 America/New_York (UTC-4)');
  });

  it('on the night the clock skips an hour the window is an hour short: a longer cutover waits a day', () => {
    // 14 Mar 2027: 01:00 EST to 04:00 EDT is two hours
    expect(next(nightly, '2027-03-14T05:00:00Z', 2 * HOUR)).toEqual([
      '2027-03-14T06:00:00.000Z',
      '2027-03-14T06:00:00.000Z',
      '2027-03-14T08:00:00.000Z',
    ]);
    expect(next(nightly, '2027-03-14T05:00:00Z', 150 * MINUTE)[0]).toBe('2027-03-15T05:00:00.000Z');
  });

  it('takes a skipped opening after the gap, and a repeated one at its first', () => {
    const skipped = window({ start: '02:30', end: '05:00', timeZone: 'America/New_York' });
    // 02:30 does not happen on 14 Mar 2027: 03:30 EDT
    expect(next(skipped, '2027-03-14T05:00:00Z', 0)[0]).toBe('2027-03-14T07:30:00.000Z');
    const repeated = window({ start: '01:30', end: '03:00', timeZone: 'America/New_York' });
    // 01:30 happens twice on 7 Nov 2027: the first, EDT
    expect(next(repeated, '2027-11-07T04:00:00Z', 0)[0]).toBe('2027-11-07T05:30:00.000Z');
  });
});

describe('how much of the window the cutover needs', () => {
  const w = window({ start: '02:00', end: '03:00', timeZone: 'UTC' });
  it("is the operator's bound, else 1.5 × the longest measured, else a safe default, never above the window", () => {
    expect(cutoverBound({ ...w, cutoverMs: 10 * MINUTE }, false, 60_000)).toEqual({
      ms: 10 * MINUTE,
      from: 'set by the operator',
    });
    expect(cutoverBound(w, true, 60_000)).toEqual({
      ms: 90_000,
      from: '1.5 × the longest cutover measured so far in this fleet',
    });
    expect(cutoverBound(w, true, undefined)).toEqual({
      ms: 20 * MINUTE,
      from: 'the safe default for a pre-staged order',
    });
    // the SOP order's safe default (an hour) takes the whole one-hour window
    expect(cutoverBound({ ...w, end: '02:30' }, false, undefined).ms).toBe(30 * MINUTE);
  });
});

describe('a window at input', () => {
  const node = { host: '127.0.0.1', hostKeySha256: `SHA256:${'A'.repeat(43)}` };
  const panelRelease = { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' };
  const inventory = (fleetWindow: unknown, vmWindow?: unknown) => ({
    node,
    panelRelease,
    window: fleetWindow,
    vms: [
      { vmid: 105, ip: '10.10.10.14' },
      { vmid: 106, ip: '10.10.10.15', ...(vmWindow !== undefined && { window: vmWindow }) },
    ],
  });
  const good = { start: '02:00', end: '05:00', timeZone: 'Asia/Shanghai' };
  const refusal = (fleetWindow: unknown, vmWindow?: unknown) => {
    try {
      parseMigrateFleetInput({ inventory: inventory(fleetWindow, vmWindow) });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it.each([
    [{ ...good, end: '02:00' }, /inventory\.window\.end: the same as start: an empty window/],
    [{ ...good, timeZone: 'Mars/Olympus_Mons' }, /inventory\.window\.timeZone: unknown time zone 'Mars\/Olympus_Mons'/],
    [{ ...good, days: [] }, /inventory\.window\.days: /],
    [{ ...good, days: ['mon', 'mon'] }, /inventory\.window\.days: each day once/],
    [{ ...good, days: ['funday'] }, /inventory\.window\.days\.0: /],
    [{ ...good, start: '25:00' }, /inventory\.window\.start: a time of day/],
    [{ ...good, start: '2:00' }, /inventory\.window\.start: a time of day/],
    [{ ...good, cutoverMs: 4 * HOUR }, /inventory\.window\.cutoverMs: longer than the window \(3 h\)/],
    [{ ...good, from: 'now' }, /inventory\.window: .*from/],
  ])('refuses %j, naming the field', (bad, message) => expect(refusal(bad)).toMatch(message));

  it("refuses a VM's own bad window, naming it", () =>
    expect(refusal(good, { ...good, timeZone: 'Nowhere' })).toMatch(/inventory\.vms\.1\.window\.timeZone: unknown/));

  it("gives each VM its own window or the fleet's, the zone in its canonical spelling", () => {
    const parsed = InventorySchema.parse(inventory(good, { ...good, start: '03:00', timeZone: 'asia/tokyo' }));
    const windows = [105, 106].map((vmid) => parseMigrateVmInput(migrateVmInputFor(parsed, vmid)).window);
    expect(windows).toEqual([good, { ...good, start: '03:00', timeZone: 'Asia/Tokyo' }]);
    // the canonical form parses to itself
    expect(InventorySchema.parse(parsed)).toEqual(parsed);
  });
});
