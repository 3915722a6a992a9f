/*
 * OpenClaw visual panel — the lab's build. It keeps the contract of the real panel that the SOP relies on
 * (start command, config file, endpoints) in plain CommonJS with no dependencies, so `npm install --omit=dev`
 * works offline.
 *
 *     PANEL_CONFIG_PATH=/etc/openclaw-panel/panel.config.json node src/server.js
 *
 * Config (JSON): panel.listen_host / panel.listen_port, openclaw.config_path, openclaw.gateway_port,
 * update.panel_release_repo, update.bot_release_repo, update.panel_app_dir, runtime.mode.
 * A missing or unreadable config, or one that breaks the real panel's schema (a null, a port as a string: see
 * CONFIG_SCHEMA), ends the process with status 78 (EX_CONFIG) and a message on stderr.
 *
 * Endpoints:
 *   GET /                                  200 HTML
 *   GET /api/health                        {"ok":true}
 *   GET /api/status                        runtime mode, panel release, gateway port and whether it answers
 *   GET /api/update/check?target=bot|panel {"target","currentTag","latestTag","updateAvailable"}
 *     panel: currentTag is `tag` of <update.panel_app_dir>/.panel-release.json
 *     bot:   currentTag is the first version-looking token that `openclaw --version` prints (openclaw from PATH)
 *   The real panel asks GitHub's releases API for latestTag; the lab has no GitHub, so latestTag is the
 *   installed tag and updateAvailable is false.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: the app runs as plain node */
/* global process, __dirname, console, Buffer, URL, setTimeout */
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');

const APP_DIR = path.resolve(__dirname, '..');
const EX_CONFIG = 78;

function fail(message, code = EX_CONFIG) {
  process.stderr.write(`openclaw-panel: ${message}\n`);
  process.exit(code);
}

function section(cfg, name) {
  const v = cfg[name];
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/**
 * The real panel's config schema (its src/panel-config.js, zod): a section is an object, and a key it knows, when
 * present, has its type: no null, no port as a string. The real panel does not start otherwise; nor does this one.
 */
const PORT = 'a positive integer';
const TEXT = 'a string';
const FLAG = 'a boolean';
const CONFIG_SCHEMA = {
  panel: { listen_host: TEXT, listen_port: PORT, container_name: TEXT, image_repo: TEXT },
  runtime: { mode: ['systemd', 'docker'] },
  reverse_proxy: {
    enabled: FLAG,
    public_scheme: ['http', 'https'],
    public_host: TEXT,
    panel_public_port: PORT,
    gateway_public_port: PORT,
    panel_public_base_url: TEXT,
    webhook_public_base_url: TEXT,
  },
  openclaw: {
    config_path: TEXT,
    service_name: TEXT,
    container_name: TEXT,
    image_repo: TEXT,
    gateway_port: PORT,
    gateway_ws_url: TEXT,
    gateway_media_root: TEXT,
  },
  docker: { enabled: FLAG },
  update: {
    github_token: TEXT,
    bot_release_repo: TEXT,
    panel_release_repo: TEXT,
    panel_service_name: TEXT,
    panel_app_dir: TEXT,
  },
  log: { source: ['journal', 'file', 'docker'], file_path: TEXT },
};

function hasType(value, kind) {
  if (kind === PORT) return Number.isInteger(value) && value > 0;
  if (kind === TEXT) return typeof value === 'string';
  if (kind === FLAG) return typeof value === 'boolean';
  return kind.includes(value);
}

/** Where the config breaks the real panel's schema, as `section.key must be …, got …` lines. */
function schemaErrors(cfg) {
  const errors = [];
  for (const [name, fields] of Object.entries(CONFIG_SCHEMA)) {
    const section = cfg[name];
    if (section === undefined) continue;
    if (!section || typeof section !== 'object' || Array.isArray(section)) {
      errors.push(`${name} must be an object, got ${JSON.stringify(section)}`);
      continue;
    }
    for (const [key, kind] of Object.entries(fields)) {
      if (key in section && !hasType(section[key], kind)) {
        const wanted = Array.isArray(kind) ? `one of ${kind.join(', ')}` : kind;
        errors.push(`${name}.${key} must be ${wanted}, got ${JSON.stringify(section[key])}`);
      }
    }
  }
  return errors;
}

function loadSettings(env) {
  const configPath = env.PANEL_CONFIG_PATH;
  if (!configPath) {
    fail('PANEL_CONFIG_PATH is not set (it names the panel config, e.g. /etc/openclaw-panel/panel.config.json)');
  }
  let text;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    fail(`cannot read config ${configPath}: ${err.message}`);
  }
  let cfg;
  try {
    cfg = JSON.parse(text);
  } catch (err) {
    fail(`config ${configPath} is not valid JSON: ${err.message}`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) fail(`config ${configPath} is not a JSON object`);
  const errors = schemaErrors(cfg);
  if (errors.length) fail(`config ${configPath}: ${errors.join('; ')}`);
  const panel = section(cfg, 'panel');
  const openclaw = section(cfg, 'openclaw');
  const update = section(cfg, 'update');
  const runtime = section(cfg, 'runtime');
  return {
    configPath,
    listenHost: panel.listen_host || '127.0.0.1',
    listenPort: panel.listen_port ?? 18080,
    runtimeMode: runtime.mode ?? 'docker',
    openclawConfigPath: openclaw.config_path || path.join(os.homedir(), '.openclaw', 'openclaw.json'),
    gatewayPort: openclaw.gateway_port ?? 18789,
    panelReleaseRepo: update.panel_release_repo || '',
    botReleaseRepo: update.bot_release_repo || 'openclaw/openclaw',
    panelAppDir: update.panel_app_dir || APP_DIR,
  };
}

/** `tag` of <app dir>/.panel-release.json, or null. */
function panelRelease(settings) {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(settings.panelAppDir, '.panel-release.json'), 'utf8'));
    return marker && typeof marker.tag === 'string' ? marker : null;
  } catch {
    return null;
  }
}

const VERSION_TOKEN = /\bv?(\d+\.\d+(?:\.\d+)*(?:-[0-9A-Za-z.]+)?)/;

/** The installed bot version: the first version-looking token of `openclaw --version`. */
function botVersion() {
  return new Promise((resolve, reject) => {
    execFile('openclaw', ['--version'], { timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const why = err.code === 'ENOENT' ? 'openclaw is not on PATH' : (stderr || err.message).trim();
        reject(new Error(`openclaw --version failed: ${why}`));
        return;
      }
      const m = VERSION_TOKEN.exec(String(stdout));
      if (!m) reject(new Error(`openclaw --version printed no version: ${String(stdout).trim().slice(0, 200)}`));
      else resolve(m[1]);
    });
  });
}

function portAnswers(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(1500, () => done(false));
  });
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function status(settings) {
  const release = panelRelease(settings);
  return {
    runtime: { mode: settings.runtimeMode },
    panel: {
      tag: release ? release.tag : null,
      releaseRepo: settings.panelReleaseRepo,
      appDir: settings.panelAppDir,
      listen: `${settings.listenHost}:${settings.listenPort}`,
    },
    gateway: {
      port: settings.gatewayPort,
      reachable: await portAnswers(settings.gatewayPort),
      configPath: settings.openclawConfigPath,
      configExists: fs.existsSync(settings.openclawConfigPath),
    },
  };
}

async function updateCheck(settings, target) {
  if (target === 'panel') {
    const release = panelRelease(settings);
    const tag = release ? release.tag : null;
    return { target, currentTag: tag, latestTag: tag, updateAvailable: false };
  }
  const version = await botVersion();
  return { target, currentTag: version, latestTag: version, updateAvailable: false };
}

function page(s) {
  const row = (k, v) => `      <tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  return `<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>OpenClaw 可视化面板</title>
  </head>
  <body>
    <h1>OpenClaw Panel</h1>
    <table>
${[
  row('runtime', s.runtime.mode),
  row('panel release', s.panel.tag || 'unknown'),
  row('gateway port', s.gateway.port),
  row('gateway', s.gateway.reachable ? 'reachable' : 'not answering'),
  row('openclaw config', `${s.gateway.configPath}${s.gateway.configExists ? '' : ' (missing)'}`),
].join('\n')}
    </table>
  </body>
</html>
`;
}

function createPanelServer(settings) {
  return http.createServer((req, res) => {
    const url = new URL(req.url || '/', 'http://panel.local');
    const route = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' });
      if (url.pathname === '/' || url.pathname === '/index.html') {
        const html = page(await status(settings));
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
        return res.end(html);
      }
      if (url.pathname === '/api/health') return sendJson(res, 200, { ok: true });
      if (url.pathname === '/api/status') return sendJson(res, 200, await status(settings));
      if (url.pathname === '/api/update/check') {
        const target = url.searchParams.get('target');
        if (target !== 'bot' && target !== 'panel') {
          return sendJson(res, 400, { error: 'target must be bot or panel' });
        }
        try {
          return sendJson(res, 200, await updateCheck(settings, target));
        } catch (err) {
          return sendJson(res, 502, { target, error: err.message });
        }
      }
      return sendJson(res, 404, { error: 'not found' });
    };
    route().catch((err) => {
      console.error(`openclaw-panel: ${req.method} ${req.url}: ${err.stack || err}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
}

function main() {
  const settings = loadSettings(process.env);
  const server = createPanelServer(settings);
  server.on('error', (err) => {
    fail(`cannot listen on ${settings.listenHost}:${settings.listenPort}: ${err.message}`, 1);
  });
  server.listen(settings.listenPort, settings.listenHost, () => {
    const addr = server.address();
    console.log(
      `openclaw-panel listening on http://${settings.listenHost}:${addr.port} ` +
        `(config ${settings.configPath}, runtime ${settings.runtimeMode}, gateway port ${settings.gatewayPort})`,
    );
  });
  const stop = (signal) => {
    console.log(`openclaw-panel: ${signal}, shutting down`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

module.exports = { loadSettings, createPanelServer, botVersion, VERSION_TOKEN };

if (require.main === module) main();
