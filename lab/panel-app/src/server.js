/*
 * OpenClaw visual panel — the lab's build. It keeps the contract of the panel release record 000 deployed
 * (Bianshumeng/openclaw-panel-public, tag v2026.02.20-r4: its src/server.js, src/panel-config.js,
 * src/direct-update.js and deploy/openclaw-panel.service, read for this) on that release's own dependencies,
 * pinned in package.json: fastify 4 with @fastify/static, zod 3, shoelace (served to the page), ws (the
 * release's gateway client; installed as released, the lab's panel has no chat console). ESM, as released.
 * `npm install --omit=dev` therefore needs a registry, as the release's does.
 *
 *     PANEL_CONFIG_PATH=/etc/openclaw-panel/panel.config.json node src/server.js
 *
 * Config: src/panel-config.js. One the schema refuses (a null, a port as a string, a file that cannot be read or
 * parsed) ends the start with status 1 and a message on stderr naming the file and each key, as the release's
 * uncaught ZodError does; a missing file starts on the defaults (127.0.0.1:18080).
 * At start, as the release: the OpenClaw config (openclaw.config_path) is made mode 600, and, for a panel
 * running as root with OPENCLAW_CONFIG_OWNER_UID and _GID set, owned by them; a failure is only a warning.
 *
 * Routes (the release's answers, for the routes the SOP and the product read; no auth: nginx's fronts do it):
 *   GET /                                    200 public/index.html (the release: its dashboard page)
 *   GET /shoelace/…                          the shoelace package's cdn/ directory, from node_modules
 *   GET /api/health                          {"ok":true,"service":"openclaw-panel","timestamp":"…"}
 *   GET /api/panel-config                    {"ok":true,"filePath","config"}: the config as parsed
 *   GET /api/update/check?target=bot|panel   {"ok":true,"result":{…}} (src/update-check.js); no target = bot; any
 *                                            other target, or a failing `openclaw --version`: 400 {"ok":false,"message"}
 *   GET /api/<anything else>                 404 {"ok":false,"message":"API not found"}
 *   GET <any other path>                     200 index.html
 * The config is read again for each API request, as the release does.
 */
/* global console */
import { chmod, chown, stat } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { z } from 'zod';
import { loadPanelConfig } from './panel-config.js';
import { updateCheck } from './update-check.js';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const updateCheckQuery = z.object({ target: z.enum(['bot', 'panel']).optional().default('bot') });

const app = Fastify({ logger: false });
await app.register(fastifyStatic, { root: path.join(appDir, 'public'), prefix: '/' });
await app.register(fastifyStatic, {
  root: path.join(appDir, 'node_modules', '@shoelace-style', 'shoelace', 'cdn'),
  prefix: '/shoelace/',
  decorateReply: false,
});

/** An API route: its answer, or 400 `{ ok: false, message }`, as the release's routes do. */
const api = (handler) => async (request, reply) => {
  try {
    return await handler(request);
  } catch (err) {
    reply.code(400);
    return { ok: false, message: err.message };
  }
};

app.get('/api/health', async () => ({ ok: true, service: 'openclaw-panel', timestamp: new Date().toISOString() }));

app.get(
  '/api/panel-config',
  api(async () => ({ ok: true, ...(await loadPanelConfig()) })),
);

app.get(
  '/api/update/check',
  api(async (request) => {
    const { target } = updateCheckQuery.parse(request.query ?? {});
    const { config } = await loadPanelConfig();
    return { ok: true, result: await updateCheck(config, target) };
  }),
);

app.get('/', (_request, reply) => reply.sendFile('index.html'));

app.setNotFoundHandler((request, reply) => {
  if (request.raw.url?.startsWith('/api/')) return reply.code(404).send({ ok: false, message: 'API not found' });
  return reply.sendFile('index.html');
});

/** The release's start-up fix of the OpenClaw config's mode (and owner, when told). */
async function normalizeOpenClawConfig(configPath) {
  let st;
  try {
    st = await stat(configPath);
  } catch (err) {
    if (err.code === 'ENOENT') return;
    throw err;
  }
  if ((st.mode & 0o777) !== 0o600) await chmod(configPath, 0o600);
  const uid = process.env.OPENCLAW_CONFIG_OWNER_UID?.trim();
  const gid = process.env.OPENCLAW_CONFIG_OWNER_GID?.trim();
  if (process.getuid?.() === 0 && uid && gid && (st.uid !== Number(uid) || st.gid !== Number(gid))) {
    await chown(configPath, Number(uid), Number(gid));
  }
}

async function main() {
  const { config, filePath } = await loadPanelConfig();
  await normalizeOpenClawConfig(config.openclaw.config_path).catch((err) =>
    console.warn(`[openclaw-config] failed to normalize config file permission: ${err.message}`),
  );
  const { listen_host: host, listen_port: port } = config.panel;
  await app.listen({ host, port });
  console.log(`OpenClaw panel listening on http://${host}:${port} (config ${filePath})`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(`openclaw-panel: ${err.message}`);
  process.exit(1);
});
