import { z } from 'zod';
import { UNKNOWN, type BotListing, type Known } from '../migration/contracts';
import { lastLines } from './guest-command';
import { guestScript } from './guest-scripts';
import { oneLine } from '../schema';

/**
 * What the bot itself says it holds, by its own CLI (scripts/bot-listing.sh): sourced ahead of the scan's script
 * (the Docker-era bot in its container) and the acceptance's (the direct bot as the run-as user).
 */
export const botListingScript = guestScript('bot-listing.sh');

// The real CLIs' JSON (OpenClaw 2026.2.19 and 2026.9.6): only the fields used are checked, the rest pass.
const SessionsSchema = z
  .object({ sessions: z.array(z.object({ key: z.string().min(1) }).passthrough()) })
  .passthrough();
const AgentsSchema = z.array(z.object({ id: z.string().min(1), workspace: z.string().min(1) }).passthrough());
const CronSchema = z
  .object({
    jobs: z.array(z.object({ id: z.string().min(1), name: z.string(), enabled: z.boolean() }).passthrough()),
  })
  .passthrough();
const SkillsSchema = z
  .object({ skills: z.array(z.object({ name: z.string().min(1), disabled: z.boolean() }).passthrough()) })
  .passthrough();
const PluginsSchema = z
  .object({ plugins: z.array(z.object({ id: z.string().min(1), enabled: z.boolean() }).passthrough()) })
  .passthrough();
const HistorySchema = z.object({ sessionKey: z.string().min(1), messages: z.number().int().nonnegative() });

/**
 * The bot's answers among a script's key=value lines (`bot_*`), reduced to what is compared: nothing of the
 * conversations themselves, no token. An answer that does not parse is unknown, with the reason in `errors`.
 */
export function parseBotListing(values: Map<string, string[]>): BotListing {
  // what a CLI said instead of answering is kept for the record: a line that looks like a credential is withheld
  const errors = (values.get('bot_error') ?? []).map((line) => {
    const at = line.indexOf(': ');
    return at < 0
      ? lastLines(line, 1, 300)
      : `${oneLine(line.slice(0, at), 200)}: ${lastLines(line.slice(at + 2), 1, 300)}`;
  });
  const parse = <S extends z.ZodTypeAny, T>(
    key: string,
    text: string | undefined,
    schema: S,
    reduce: (value: z.infer<S>) => T,
  ): Known<T> => {
    if (text === undefined) return UNKNOWN;
    try {
      const result = schema.safeParse(JSON.parse(text));
      if (result.success) return reduce(result.data);
      errors.push(
        `${key}: ${oneLine(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), 300)}`,
      );
    } catch (err) {
      errors.push(`${key}: not JSON: ${oneLine(String(err), 200)}`);
    }
    return UNKNOWN;
  };
  const parsed = <S extends z.ZodTypeAny, T>(key: string, schema: S, reduce: (value: z.infer<S>) => T) =>
    parse(key, values.get(key)?.[0], schema, reduce);
  const histories = new Map<string, number>();
  for (const line of values.get('bot_history') ?? []) {
    const history = parse('bot_history', line, HistorySchema, (h) => h);
    if (history !== UNKNOWN) histories.set(history.sessionKey, history.messages);
  }
  return {
    version: values.get('bot_version')?.[0]?.trim() || UNKNOWN,
    sessions: parsed('bot_sessions', SessionsSchema, ({ sessions }) =>
      sessions.map(({ key }) => ({ key, messages: histories.get(key) ?? UNKNOWN })),
    ),
    workspaces: parsed('bot_agents', AgentsSchema, (agents) =>
      agents.map(({ id, workspace }) => ({ agent: id, workspace })),
    ),
    cronJobs: parsed('bot_cron', CronSchema, ({ jobs }) =>
      jobs.map(({ id, name, enabled }) => ({ id, name, enabled })),
    ),
    skillsEnabled: parsed('bot_skills', SkillsSchema, ({ skills }) =>
      skills.filter((s) => !s.disabled).map((s) => s.name),
    ),
    skillsDisabled: parsed('bot_skills', SkillsSchema, ({ skills }) =>
      skills.filter((s) => s.disabled).map((s) => s.name),
    ),
    pluginsEnabled: parsed('bot_plugins', PluginsSchema, ({ plugins }) =>
      plugins.filter((p) => p.enabled).map((p) => p.id),
    ),
    pluginsDisabled: parsed('bot_plugins', PluginsSchema, ({ plugins }) =>
      plugins.filter((p) => !p.enabled).map((p) => p.id),
    ),
    errors,
  };
}

/** Where the Docker-era container keeps the state (the panel's compose: /data/openclaw mounted here). */
export const DOCKER_STATE_DIR = '/home/node/.openclaw';
/** Where that state is on the VM itself, and what the acceptance compares the migrated workspaces with. */
export const DOCKER_STATE_ON_VM = '/data/openclaw';

/** A path of the Docker-era container, moved under another state directory (the VM's, or the run-as user's). */
export function movedPath(path: string, stateDir: string): string {
  return path === DOCKER_STATE_DIR || path.startsWith(`${DOCKER_STATE_DIR}/`)
    ? stateDir + path.slice(DOCKER_STATE_DIR.length)
    : path;
}

/** A directory's files as the acceptance counted them (`dir_files` lines). */
export interface DirFiles {
  files: number;
  memory: boolean;
}

export interface BotComparison {
  /** what fails the acceptance */
  failures: string[];
  /** what differs and is for the human to weigh (skills and plugins the user's config does not enable, new jobs) */
  differences: string[];
}

const known = <T>(value: Known<T>): value is T => value !== UNKNOWN;

/** The items a bot's listing lacks (its CLI did not answer them). */
const unlisted = (bot: BotListing) =>
  (
    [
      ['sessions', bot.sessions],
      ['agents', bot.workspaces],
      ['cron jobs', bot.cronJobs],
      ['skills', bot.skillsEnabled],
      ['plugins', bot.pluginsEnabled],
    ] as const
  ).flatMap(([what, value]) => (known(value) ? [] : [what]));

/**
 * The direct bot against the Docker-era one (SOP §1: users must not notice). Without a Docker-era listing (a bot
 * that did not answer the scan, or a run scanned before bots were asked) only the direct bot's own answers are
 * required: it must list its sessions, agents and jobs. `userEnables` = the skills and plugins the user's own
 * (Docker-era) config enables; `dirs` = files counted per directory, by path on the VM.
 */
export function compareBots(
  before: BotListing | undefined,
  after: BotListing,
  runHome: string,
  userEnables: { skills: string[]; plugins: string[] },
  dirs: Map<string, DirFiles>,
): BotComparison {
  const failures: string[] = [];
  const differences: string[] = [];
  for (const what of unlisted(after)) failures.push(`the direct bot did not list its ${what}`);
  // a Docker-era bot that did not list an item leaves nothing to compare it with: the human is told so
  for (const what of before ? unlisted(before) : [])
    differences.push(`the Docker-era bot did not list its ${what} in the scan: the direct bot's are not compared`);

  if (before && known(before.sessions) && known(after.sessions)) {
    const listed = new Map(after.sessions.map((s) => [s.key, s.messages]));
    for (const { key, messages } of before.sessions) {
      const now = listed.get(key);
      if (now === undefined) failures.push(`session ${key} is not listed by the direct bot`);
      else if (known(messages) && !known(now)) failures.push(`session ${key}: the direct bot did not say its messages`);
      else if (known(messages) && known(now) && now < messages)
        failures.push(`session ${key}: ${now} messages, the Docker-era bot had ${messages}`);
    }
  }

  if (before && known(before.workspaces) && known(after.workspaces)) {
    const resolved = new Map(after.workspaces.map((w) => [w.agent, w.workspace]));
    for (const { agent, workspace } of before.workspaces) {
      const expected = movedPath(workspace, `${runHome}/.openclaw`);
      const now = resolved.get(agent);
      if (now === undefined) {
        failures.push(`agent ${agent} is not listed by the direct bot`);
        continue;
      }
      if (now !== expected) {
        failures.push(`agent ${agent}'s workspace is ${now}, expected the migrated ${expected}`);
        continue;
      }
      const source = dirs.get(movedPath(workspace, DOCKER_STATE_ON_VM));
      const target = dirs.get(now);
      if (!target || target.files === 0) failures.push(`agent ${agent}'s workspace ${now} holds no files`);
      else if (source && target.files < source.files)
        failures.push(`agent ${agent}'s workspace ${now}: ${target.files} files, the Docker-era one ${source.files}`);
      if (target && source?.memory && !target.memory)
        failures.push(`agent ${agent}'s workspace ${now} lacks MEMORY.md`);
    }
  }

  if (before && known(before.cronJobs) && known(after.cronJobs)) {
    for (const job of before.cronJobs) {
      const now = after.cronJobs.find((j) => j.id === job.id) ?? after.cronJobs.find((j) => j.name === job.name);
      if (!now) failures.push(`cron job ${job.name} (${job.id}) is not listed by the direct bot`);
      else if (job.enabled && !now.enabled) failures.push(`cron job ${job.name} is disabled on the direct bot`);
    }
    const ids = new Set(before.cronJobs.flatMap((j) => [j.id, j.name]));
    for (const job of after.cronJobs)
      if (!ids.has(job.id) && !ids.has(job.name)) differences.push(`cron job ${job.name} is new on the direct bot`);
  }

  for (const [kind, was, now, disabledNow, enabledByUser] of [
    ['skill', before?.skillsEnabled, after.skillsEnabled, after.skillsDisabled, userEnables.skills],
    ['plugin', before?.pluginsEnabled, after.pluginsEnabled, after.pluginsDisabled, userEnables.plugins],
  ] as const) {
    if (!known(now)) continue;
    const enabledNow = new Set(now);
    const disabled = new Set(disabledNow && known(disabledNow) ? disabledNow : []);
    const state = (name: string) =>
      disabled.has(name) ? 'the direct bot has it disabled' : "the direct bot's release does not list it";
    for (const name of enabledByUser)
      if (!enabledNow.has(name)) failures.push(`${kind} ${name}: the user's config enables it, ${state(name)}`);
    if (!was || !known(was)) continue;
    for (const name of was)
      if (!enabledNow.has(name) && !enabledByUser.includes(name))
        differences.push(`${kind} ${name}: enabled on the Docker-era bot, ${state(name)}`);
    const enabledBefore = new Set(was);
    for (const name of now) if (!enabledBefore.has(name)) differences.push(`${kind} ${name}: newly enabled`);
  }
  return { failures, differences };
}
