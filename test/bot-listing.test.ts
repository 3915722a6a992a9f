import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { dirFiles, tokenFailures } from '../src/activities/acceptance';
import { botListingScript, compareBots, parseBotListing, type DirFiles } from '../src/activities/bot-listing';
import { UNKNOWN, type BotListing } from '../src/migration/contracts';
import { keyValues } from '../src/activities/guest-command';
import { scanScript } from '../src/activities/scan';
import { botsSideBySide } from '../src/migration/record';

// What the real CLIs printed (OpenClaw 2026.2.19 as the Docker-era bot, 2026.9.6 after the move and doctor --fix:
// sessions and chat.history from ../shared/evidence, the rest from scratch homes), replayed by a stand-in CLI.
const fixtures = join(__dirname, 'fixtures', 'bot-listing');

/** bot-listing.sh as the scan and the acceptance run it, with BOT answering from a release's recorded outputs. */
function listing(release: string, setUp = '', env: NodeJS.ProcessEnv = {}): { stdout: string; bot: BotListing } {
  const script = `${botListingScript}\nBOT=(bash "$1" "$2")\n${setUp}\nbot_listing`;
  const stdout = execFileSync('bash', ['-c', script, 'test', join(fixtures, 'fake-bot.sh'), join(fixtures, release)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { stdout, bot: parseBotListing(keyValues(stdout)) };
}

const dockerEra = listing('2026.2.19').bot;
const direct = listing('2026.9.6').bot;
const RUN_HOME = '/home/oc';
const noUserEnables = { skills: [], plugins: [] };
/** the workspaces as the acceptance counts them: the Docker-era one on the VM, the migrated one */
const dirs = new Map<string, DirFiles>([
  ['/data/openclaw/workspace', { files: 11, memory: true }],
  ['/home/oc/.openclaw/workspace', { files: 11, memory: true }],
]);

describe("the bots' own listings, on the real CLIs' outputs", () => {
  test('2026.2.19 in its container: version, sessions with their messages, workspace, cron, skills, plugins', () => {
    expect(dockerEra.version).toBe('2026.2.19');
    expect(dockerEra.sessions).toEqual([
      { key: 'agent:main:ops-review', messages: 4 },
      { key: 'agent:main:telegram:direct:4242', messages: 4 },
      { key: 'agent:main:main', messages: 6 },
    ]);
    expect(dockerEra.workspaces).toEqual([{ agent: 'main', workspace: '/home/node/.openclaw/workspace' }]);
    expect(dockerEra.cronJobs).toEqual([
      { id: 'ce39b866-a81f-4db7-8e5e-80ce2c8b1f89', name: 'weekly-digest', enabled: true },
    ]);
    expect(dockerEra.skillsEnabled).toHaveLength(50);
    expect(dockerEra.pluginsEnabled).toEqual(['device-pair', 'memory-core', 'phone-control', 'talk-voice']);
    expect(dockerEra.errors).toEqual([]);
  });

  test('a Docker-era config bound to lan: cron and chat.history reach the gateway only by loopback with the token', () => {
    // as the real CLIs refuse a plaintext ws:// to the container's LAN address: unknown, and the checks would be empty
    const refused = listing('2026.2.19', '', { FAKE_BOT_BIND: 'lan' }).bot;
    expect(refused.cronJobs).toBe(UNKNOWN);
    expect(refused.errors.join('\n')).toMatch(/cron: exit 1: .*SECURITY ERROR/);
    // the scan's arguments (scan.sh): the same listing as an unrefused CLI gives
    const byLoopback = listing('2026.2.19', 'BOT_GATEWAY=(--url ws://127.0.0.1:18789 --token t0k3n)', {
      FAKE_BOT_BIND: 'lan',
    }).bot;
    expect(byLoopback).toEqual(dockerEra);
  });

  test('2026.9.6 after the move: the recovered transcript is a fourth session; only counts leave the VM', () => {
    const { stdout } = listing('2026.9.6');
    expect(direct.version).toBe('OpenClaw 2026.9.6 (eb377ac)');
    expect(direct.sessions).toContainEqual({ key: 'agent:main:recovered:alpha-001', messages: 4 });
    expect(direct.sessions).toContainEqual({ key: 'agent:main:main', messages: 6 });
    // the user's words stay on the VM: chat.history is reduced to a count in the guest
    expect(stdout).not.toContain('my cat is called Miso');
  });

  test('the real move passes; what differs is listed, not failed', () => {
    const compared = compareBots(dockerEra, direct, RUN_HOME, noUserEnables, dirs);
    expect(compared.failures).toEqual([]);
    // doctor --fix disabled 30 skills it found unusable here; 2026.9.6 has no phone-control plugin; its own jobs
    // (heartbeat, dreaming) are new
    expect(compared.differences).toContain(
      'skill github: enabled on the Docker-era bot, the direct bot has it disabled',
    );
    // 29 of doctor's 30: the 30th, xurl, is new in 2026.9.6
    expect(compared.differences.filter((d) => d.endsWith('the direct bot has it disabled'))).toHaveLength(29);
    // skills and plugins 2026.9.6 no longer ships
    expect(compared.differences).toContain(
      "skill discord: enabled on the Docker-era bot, the direct bot's release does not list it",
    );
    expect(compared.differences).toContain(
      "plugin phone-control: enabled on the Docker-era bot, the direct bot's release does not list it",
    );
    expect(compared.differences).toContain('cron job heartbeat-main is new on the direct bot');
    expect(botsSideBySide(dockerEra, direct)).toContain('| session agent:main:main | 6 messages | 6 messages |');
  });

  test("the scan runs the bot's CLI as its container's command does (the released image: node dist/index.js in /app)", () => {
    // the whole scan script, read-only, on this machine, with a stand-in docker whose container runs the release
    const stdout = execFileSync('bash', ['-c', scanScript, 'scan', 'root'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${fixtures}:${process.env.PATH}`, FAKE_BOT_DIR: join(fixtures, '2026.2.19') },
    });
    expect(parseBotListing(keyValues(stdout))).toEqual(dockerEra);
    expect(stdout).toMatch(/^token_source=(none|config|environment)$/m);
  });

  test('a bot that does not answer leaves every item unknown, with its reasons; the scan goes on', () => {
    const silent = listing('no-such-release').bot;
    expect(silent.sessions).toBe(UNKNOWN);
    expect(silent.version).toBe(UNKNOWN);
    expect(silent.errors.some((e) => e.startsWith('sessions: '))).toBe(true);
    // without a Docker-era listing the direct bot's own answers are what is required
    expect(compareBots(silent, direct, RUN_HOME, noUserEnables, dirs).failures).toEqual([]);
    // but nothing is compared then, and the human is told so
    expect(compareBots(silent, direct, RUN_HOME, noUserEnables, dirs).differences).toContain(
      "the Docker-era bot did not list its sessions in the scan: the direct bot's are not compared",
    );
    expect(compareBots(direct, silent, RUN_HOME, noUserEnables, dirs).failures).toContain(
      'the direct bot did not list its sessions',
    );
  });
});

describe('the faults each check must catch (issue 18, point 5)', () => {
  const known = <T>(value: T | typeof UNKNOWN): T => {
    if (value === UNKNOWN) throw new Error('unknown');
    return value;
  };

  test('a session removed from the copy after E', () => {
    const after = { ...direct, sessions: known(direct.sessions).filter((s) => s.key !== 'agent:main:ops-review') };
    expect(compareBots(dockerEra, after, RUN_HOME, noUserEnables, dirs).failures).toEqual([
      'session agent:main:ops-review is not listed by the direct bot',
    ]);
  });

  test('a session with fewer messages than before', () => {
    const after = {
      ...direct,
      sessions: known(direct.sessions).map((s) => (s.key === 'agent:main:main' ? { ...s, messages: 2 } : s)),
    };
    expect(compareBots(dockerEra, after, RUN_HOME, noUserEnables, dirs).failures).toEqual([
      'session agent:main:main: 2 messages, the Docker-era bot had 6',
    ]);
  });

  test('the workspace path left at the Docker home', () => {
    const after = { ...direct, workspaces: [{ agent: 'main', workspace: '/home/node/.openclaw/workspace' }] };
    expect(compareBots(dockerEra, after, RUN_HOME, noUserEnables, dirs).failures).toEqual([
      "agent main's workspace is /home/node/.openclaw/workspace, expected the migrated /home/oc/.openclaw/workspace",
    ]);
  });

  test('a migrated workspace without the files or the MEMORY.md of the Docker-era one', () => {
    const thin = new Map(dirs).set('/home/oc/.openclaw/workspace', { files: 9, memory: false });
    expect(compareBots(dockerEra, direct, RUN_HOME, noUserEnables, thin).failures).toEqual([
      "agent main's workspace /home/oc/.openclaw/workspace: 9 files, the Docker-era one 11",
      "agent main's workspace /home/oc/.openclaw/workspace lacks MEMORY.md",
    ]);
  });

  test('the token not carried: the direct gateway refuses it (its 401), and the panel holds another', () => {
    const values = keyValues(
      'token_source=environment\ntoken_gateway=401\ntoken_panel=differs\ntoken_panel_gateway=404\n',
    );
    expect(tokenFailures(values)).toEqual([
      "the customer's token (environment): the direct gateway answered 401",
      "the panel's token: differs, not the customer's",
    ]);
    // carried: the gateway takes it (an unknown tool's 404, past its auth), and the panel has the same
    expect(
      tokenFailures(
        keyValues('token_source=environment\ntoken_gateway=404\ntoken_panel=same\ntoken_panel_gateway=404'),
      ),
    ).toEqual([]);
    expect(tokenFailures(keyValues('token_source=none\ntoken_panel=none'))).toEqual([]);
  });

  test('a cron job gone', () => {
    const after = { ...direct, cronJobs: known(direct.cronJobs).filter((j) => j.name !== 'weekly-digest') };
    expect(compareBots(dockerEra, after, RUN_HOME, noUserEnables, dirs).failures).toEqual([
      'cron job weekly-digest (ce39b866-a81f-4db7-8e5e-80ce2c8b1f89) is not listed by the direct bot',
    ]);
  });

  test("a skill the user's own config enables, which doctor --fix disabled", () => {
    // the Docker-era config's skills.entries.github.enabled = true: doctor's disabling is then a failure
    expect(
      compareBots(dockerEra, direct, RUN_HOME, { skills: ['github', 'weather'], plugins: ['memory-core'] }, dirs)
        .failures,
    ).toEqual(["skill github: the user's config enables it, the direct bot has it disabled"]);
  });

  test('dir_files lines as acceptance.sh prints them, paths with spaces kept whole', () => {
    expect(dirFiles(['11 1 /data/openclaw/workspace', '3 0 /home/o c/.openclaw/workspace', 'garbage'])).toEqual(
      new Map([
        ['/data/openclaw/workspace', { files: 11, memory: true }],
        ['/home/o c/.openclaw/workspace', { files: 3, memory: false }],
      ]),
    );
  });
});
