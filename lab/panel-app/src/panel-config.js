/*
 * The panel's config, with the semantics of the release's src/panel-config.js (v2026.02.20-r4, read from
 * Bianshumeng/openclaw-panel-public): a zod 3 schema whose every key has a type and a default.
 *
 * - The file is $PANEL_CONFIG_PATH (`~/` expanded), else ~/.openclaw-panel/panel.config.json. A file that does
 *   not exist is no error: every default applies (127.0.0.1:18080). One that cannot be read (EACCES: a root-owned
 *   600 config for a panel running as another user) or is not JSON stops the start.
 * - A section that is not an object (absent, null, a string) is taken as `{}`: its defaults apply. A key present
 *   with another type stops the start: a null (`update.github_token: null`), a port as a string
 *   (`panel.listen_port: "28080"`), a `runtime.mode` outside systemd|docker. Unknown keys are accepted and dropped,
 *   as the release's non-strict z.object does (a Docker-era config carries keys of its own).
 * - After parsing, as the release does: runtime.mode is systemd and docker.enabled false whatever the file says,
 *   log.source docker becomes journal, an empty log.file_path its default, openclaw.config_path is
 *   $OPENCLAW_CONFIG_PATH, else the file's, else ~/.openclaw/openclaw.json; $PANEL_LISTEN_HOST and a positive
 *   $PANEL_LISTEN_PORT override panel.listen_host/listen_port.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { z } from 'zod';

export function expandHome(p) {
  if (p === '~') return os.homedir();
  return p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/** A section: an object's keys are checked, anything else is an empty section. */
const section = (shape) =>
  z.preprocess((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {}), z.object(shape));
const port = (dflt) => z.number().int().positive().default(dflt);
const text = (dflt) => z.string().default(dflt);

const panelConfigSchema = z.object({
  panel: section({
    listen_host: text('127.0.0.1'),
    listen_port: port(18080),
    container_name: text('openclaw-panel'),
    image_repo: text('ghcr.io/bianshumeng/openclaw-panel'),
  }),
  runtime: section({ mode: z.enum(['systemd', 'docker']).default('systemd') }),
  reverse_proxy: section({
    enabled: z.boolean().default(false),
    public_scheme: z.enum(['http', 'https']).default('http'),
    public_host: text(''),
    panel_public_port: port(18080),
    gateway_public_port: port(18789),
    panel_public_base_url: text(''),
    webhook_public_base_url: text(''),
  }),
  openclaw: section({
    config_path: text('~/.openclaw/openclaw.json'),
    service_name: text('openclaw-gateway'),
    container_name: text('openclaw-gateway'),
    image_repo: text('ghcr.io/bianshumeng/openclaw-mymy'),
    gateway_port: port(18789),
    gateway_ws_url: text(''),
    gateway_media_root: text(''),
  }),
  docker: section({ enabled: z.boolean().default(false) }),
  update: section({
    github_token: text(''),
    bot_release_repo: text('openclaw/openclaw'),
    panel_release_repo: text('Bianshumeng/openclaw-panel-public'),
    panel_service_name: text('openclaw-panel'),
    panel_app_dir: text('/opt/openclaw-panel'),
  }),
  log: section({
    source: z.enum(['journal', 'file', 'docker']).default('journal'),
    file_path: text('~/.openclaw/logs/gateway.log'),
  }),
});

const DEFAULT_LOG_FILE = '~/.openclaw/logs/gateway.log';

/** A config the panel cannot start on; its message names the file and each key at fault. */
export class PanelConfigError extends Error {}

export function panelConfigPath(env = process.env) {
  return env.PANEL_CONFIG_PATH
    ? expandHome(env.PANEL_CONFIG_PATH)
    : path.join(os.homedir(), '.openclaw-panel', 'panel.config.json');
}

async function readConfigFile(filePath) {
  let raw;
  try {
    raw = await readFile(filePath, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return {};
    throw new PanelConfigError(`cannot read config ${filePath}: ${err.message}`);
  }
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new PanelConfigError(`config ${filePath} is not valid JSON: ${err.message}`);
  }
}

export async function loadPanelConfig(env = process.env) {
  const filePath = panelConfigPath(env);
  const parsed = panelConfigSchema.safeParse(await readConfigFile(filePath));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new PanelConfigError(`config ${filePath}: ${issues.join('; ')}`);
  }
  const cfg = parsed.data;
  const listenPort = Number.parseInt(env.PANEL_LISTEN_PORT ?? '', 10);
  const configPath =
    (env.OPENCLAW_CONFIG_PATH ?? '').trim() || cfg.openclaw.config_path.trim() || '~/.openclaw/openclaw.json';
  return {
    filePath,
    config: {
      ...cfg,
      panel: {
        ...cfg.panel,
        listen_host: (env.PANEL_LISTEN_HOST ?? '').trim() || cfg.panel.listen_host,
        listen_port: listenPort > 0 ? listenPort : cfg.panel.listen_port,
      },
      runtime: { mode: 'systemd' },
      docker: { enabled: false },
      openclaw: { ...cfg.openclaw, config_path: expandHome(configPath), gateway_media_root: '' },
      log: {
        source: cfg.log.source === 'docker' ? 'journal' : cfg.log.source,
        file_path: cfg.log.file_path.trim() || DEFAULT_LOG_FILE,
      },
    },
  };
}
