import { execFile, execFileSync, spawn, type ChildProcess, type ExecFileOptions } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { connects, freePort } from '../../lab/shared/net';
import { devServerSearchAttributeFlags, searchAttributes } from '../../src/search-attributes';
import { execResult, type ExecResult } from './exec';
import { waitFor } from './wait';

const ROOT = resolve(__dirname, '../..');
const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
/** the profile of the cluster's temporal.toml, for `temporal --profile` and the project's TEMPORAL_PROFILE */
export const CLUSTER_PROFILE = 'cluster';

export interface Cluster {
  /** the frontend's host:port, on loopback */
  address: string;
  /** the CA that signed the server's and the client's certificates */
  caCert: string;
  /** TEMPORAL_CONFIG_FILE (a temporal.toml whose profile carries the address, the CA and the client certificate)
   * and TEMPORAL_PROFILE naming that profile: what the worker, the project's CLI and `temporal` read */
  profileEnv: { TEMPORAL_CONFIG_FILE: string; TEMPORAL_PROFILE: string };
  /** `temporal <args>`, the Temporal CLI, with the profile's environment */
  temporal(args: string[]): Promise<ExecResult>;
  /** stops the frontend service alone (SIGTERM) and starts it again on the same ports; resolves once it answers */
  restartFrontend(): Promise<void>;
  /** the last lines of every server process's log, for a failure's message */
  logTails(): string;
  /** stops every process and removes the cluster's files */
  stop(): Promise<void>;
}

interface KeyPair {
  cert: string;
  key: string;
}

/** A long-running program in a process group of its own, its output appended to a log file. */
class Daemon {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly argv: string[],
    private readonly logPath: string,
    private readonly options: { cwd: string; uid?: number; gid?: number },
  ) {}

  start(): void {
    const log = openSync(this.logPath, 'a');
    const [command, ...args] = this.argv;
    const child = spawn(command, args, { ...this.options, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    this.exited = new Promise((done) => child.once('exit', () => done()));
    this.child = child;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** `signal` to the process group, SIGKILL after timeoutMs; resolves once the program has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    const send = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {
        // gone already
      }
    };
    send(signal);
    const timer = setTimeout(() => send('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  tail(lines = 25): string {
    const last = readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines);
    // the server logs JSON with whole stack traces: the start of each line says what happened
    const text = last.map((line) => (line.length > 600 ? `${line.slice(0, 600)}…` : line)).join('\n');
    return `--- ${this.name} (${this.logPath})\n${text}`;
  }
}

/** Runs a program to its end; throws with its output when it fails. */
function run(what: string, argv: string[], options: ExecFileOptions = {}): Promise<string> {
  const [command, ...args] = argv;
  return new Promise((done, fail) =>
    execFile(command, args, { timeout: 300_000, ...options, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? fail(new Error(`${what} failed (${err.message.split('\n')[0]}):\n${stdout}${stderr}`)) : done(stdout),
    ),
  );
}

/** The build of scripts/temporal-server.sh: the server, beside it the SQL schema tool and the PostgreSQL schema. */
function temporalServerBuild(): { server: string; sqlTool: string; schema: string } {
  const server = execFileSync(resolve(ROOT, 'scripts/temporal-server.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const dir = resolve(server, '..');
  return { server, sqlTool: join(dir, 'temporal-sql-tool'), schema: join(dir, 'schema/postgresql/v12') };
}

/** A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, made with openssl. */
async function makeCertificates(dir: string): Promise<{ ca: string; server: KeyPair; client: KeyPair }> {
  mkdirSync(dir);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  await run('making the CA', [
    'openssl',
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    caKey,
    '-out',
    ca,
    '-days',
    '2',
    '-subj',
    '/CN=openclaw-migrate test CA',
  ]);
  const issue = async (name: string, subject: string, extensions: string[]): Promise<KeyPair> => {
    const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    const request = join(dir, `${name}.csr`);
    const addext = extensions.flatMap((extension) => ['-addext', extension]);
    await run(`the ${name} key`, [
      'openssl',
      'req',
      ...newKey,
      '-keyout',
      pair.key,
      '-out',
      request,
      '-subj',
      subject,
      ...addext,
    ]);
    await run(`the ${name} certificate`, [
      'openssl',
      'x509',
      '-req',
      '-in',
      request,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      pair.cert,
      '-days',
      '2',
      '-copy_extensions',
      'copy',
    ]);
    return pair;
  };
  const server = await issue('server', '/CN=localhost', [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'extendedKeyUsage=serverAuth',
  ]);
  const client = await issue('client', '/CN=openclaw-migrate worker', ['extendedKeyUsage=clientAuth']);
  return { ca, server, client };
}

/** PostgreSQL 15 (the Debian package) as the `postgres` user, on a data directory of its own and a free port. */
async function startPostgres(dir: string): Promise<{ port: number; daemon: Daemon }> {
  const user = {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
  };
  const data = join(dir, 'postgres');
  mkdirSync(data, { mode: 0o700 });
  chownSync(data, user.uid, user.gid);
  await run('initdb', [join(POSTGRES_BIN, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync'], {
    cwd: data,
    ...user,
  });
  const port = await freePort();
  // fsync off: the database dies with the test; loopback only, its socket in its own directory
  const daemon = new Daemon(
    'postgres',
    [
      join(POSTGRES_BIN, 'postgres'),
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${data}`,
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ],
    join(dir, 'postgres.log'),
    { cwd: data, ...user },
  );
  daemon.start();
  const isReady = [join(POSTGRES_BIN, 'pg_isready'), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q'];
  await waitFor(
    'PostgreSQL to accept connections',
    async () => {
      if (!daemon.running) throw new Error(`PostgreSQL exited:\n${daemon.tail()}`);
      return (await execResult(isReady[0], isReady.slice(1))).code === 0;
    },
    60_000,
  );
  return { port, daemon };
}

/** The history and visibility databases, their schema applied by the server's own SQL tool. */
async function createSchema(sqlTool: string, schema: string, port: number): Promise<void> {
  const databases = [
    { name: 'temporal', versioned: join(schema, 'temporal/versioned') },
    { name: 'temporal_visibility', versioned: join(schema, 'visibility/versioned') },
  ];
  for (const { name, versioned } of databases) {
    const tool = [
      sqlTool,
      '--plugin',
      'postgres12',
      '--ep',
      '127.0.0.1',
      '-p',
      String(port),
      '-u',
      'postgres',
      '--db',
      name,
    ];
    await run(`creating database ${name}`, [...tool, 'create-database']);
    await run(`the base schema of ${name}`, [...tool, 'setup-schema', '-v', '0.0']);
    await run(`the schema versions of ${name}`, [...tool, 'update-schema', '-d', versioned]);
  }
}

interface Ports {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * Free loopback ports for the server's services. Below 32768: the PostgreSQL schema keeps a service's membership
 * port in a smallint (cluster_membership.rpc_port), and the kernel's picks (freePort) lie above it.
 */
async function serverPorts(): Promise<Ports> {
  const names: (keyof Ports)[] = [
    'frontend',
    'frontendHttp',
    'frontendMembership',
    'history',
    'historyMembership',
    'matching',
    'matchingMembership',
    'worker',
    'workerMembership',
  ];
  const taken = new Set<number>();
  const ports: Partial<Ports> = {};
  for (const name of names) {
    for (;;) {
      const port = 20_000 + randomInt(12_000);
      if (taken.has(port) || (await connects(port)) || !(await canListen(port))) continue;
      taken.add(port);
      ports[name] = port;
      break;
    }
  }
  return ports as Ports;
}

/** Whether a TCP port on 127.0.0.1 is free to listen on right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

/**
 * The server's configuration (the shape of the module's config/development-postgres12.yaml): PostgreSQL for both
 * stores, and mTLS on the frontend — it requires a client certificate signed by the test's CA, and the server's
 * own system worker presents the client certificate too.
 */
function serverConfig(ports: Ports, postgresPort: number, certs: { ca: string; server: KeyPair; client: KeyPair }) {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${postgresPort}`,
      connectProtocol: 'tcp',
      user: 'postgres',
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra: object = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  const frontendClient = { serverName: 'localhost', rootCaFiles: [certs.ca] };
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: { 'postgres-default': store('temporal', 20), 'postgres-visibility': store('temporal_visibility', 4) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: {
        frontend: {
          server: {
            certFile: certs.server.cert,
            keyFile: certs.server.key,
            clientCaFiles: [certs.ca],
            requireClientAuth: true,
          },
          client: frontendClient,
        },
        systemWorker: { certFile: certs.client.cert, keyFile: certs.client.key, client: frontendClient },
      },
    },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp }),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `localhost:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
  };
}

/** A TOML string: TOML's basic strings escape as JSON's do. */
const tomlString = (value: string) => JSON.stringify(value);

/**
 * A Temporal cluster as operators run one: the server built from Go modules, on PostgreSQL, mTLS on the frontend,
 * the frontend in one process and history, matching and the system worker in another (so that the frontend can be
 * restarted alone), the `default` namespace and the project's search attributes registered with the operator
 * commands over mTLS. Everything listens on loopback; stop() removes it all.
 */
export async function startCluster(): Promise<Cluster> {
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('TEMPORAL_CLI is not set: the jest global setup finds it');
  const build = temporalServerBuild();
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-cluster-'));
  chmodSync(dir, 0o755); // the postgres user reaches its data directory through it
  const daemons: Daemon[] = [];
  const stop = async () => {
    for (const daemon of [...daemons].reverse()) await daemon.stop(daemon.name === 'postgres' ? 'SIGINT' : 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const certs = await makeCertificates(join(dir, 'certs'));
    const postgres = await startPostgres(dir);
    daemons.push(postgres.daemon);
    await createSchema(build.sqlTool, build.schema, postgres.port);

    const ports = await serverPorts();
    const configPath = join(dir, 'server.yaml');
    writeFileSync(configPath, stringify(serverConfig(ports, postgres.port, certs)));
    const server = (name: string, services: string[]) =>
      new Daemon(
        name,
        [
          build.server,
          '--config-file',
          configPath,
          '--allow-no-auth',
          'start',
          ...services.flatMap((s) => ['--service', s]),
        ],
        join(dir, `${name}.log`),
        { cwd: dir },
      );
    const backend = server('history-matching-worker', ['history', 'matching', 'worker']);
    const frontend = server('frontend', ['frontend']);
    daemons.push(backend, frontend);
    // One at a time: the first process to start writes the cluster's metadata, and a second that races it exits
    // ("SaveClusterMetadata encountered version mismatch"). The frontend listens once it has written them.
    frontend.start();
    await waitFor(
      'the frontend to listen',
      async () => {
        if (!frontend.running) throw new Error(`the frontend exited:\n${frontend.tail()}`);
        return connects(ports.frontend);
      },
      120_000,
    );
    backend.start();

    const address = `127.0.0.1:${ports.frontend}`;
    const configFile = join(dir, 'temporal.toml');
    writeFileSync(
      configFile,
      [
        `[profile.${CLUSTER_PROFILE}]`,
        `address = ${tomlString(address)}`,
        `namespace = "default"`,
        '',
        `[profile.${CLUSTER_PROFILE}.tls]`,
        `server_ca_cert_path = ${tomlString(certs.ca)}`,
        `server_name = "localhost"`,
        `client_cert_path = ${tomlString(certs.client.cert)}`,
        `client_key_path = ${tomlString(certs.client.key)}`,
        '',
      ].join('\n'),
    );
    const profileEnv = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: CLUSTER_PROFILE };
    const temporal = (args: string[]) =>
      execResult(cli, args, { env: { ...process.env, ...profileEnv }, timeout: 60_000 });
    const logTails = () => daemons.map((daemon) => daemon.tail()).join('\n');
    const answers = async (what: string) =>
      waitFor(
        what,
        async () => {
          if (!frontend.running || !backend.running) throw new Error(`a server process exited:\n${logTails()}`);
          return (await temporal(['operator', 'cluster', 'health'])).code === 0;
        },
        120_000,
      );
    await answers('the frontend to answer over mTLS');

    const operator = async (what: string, args: string[]) => {
      const result = await temporal(['operator', ...args]);
      if (result.code !== 0) throw new Error(`${what} failed:\n${result.stdout}${result.stderr}`);
    };
    await operator('creating the default namespace', [
      'namespace',
      'create',
      '--namespace',
      'default',
      '--retention',
      '1d',
    ]);
    // From the dev server's NAME=Type flags: `--name N --type T` for each (the CLI pairs the nth --name with the
    // nth --type, and drops names without one). The frontend knows the new namespace only at its next refresh
    // of the namespace registry, hence the retries.
    const create = devServerSearchAttributeFlags().flatMap((flag) => {
      const [name, type] = flag.split('=');
      return ['--name', name, '--type', type];
    });
    await waitFor(
      'the search attributes registered',
      async () => (await temporal(['operator', 'search-attribute', 'create', ...create])).code === 0,
      120_000,
    );
    const listed = await temporal(['operator', 'search-attribute', 'list']);
    for (const attribute of searchAttributes)
      if (!new RegExp(`^\\s*${attribute.name}\\s`, 'm').test(listed.stdout))
        throw new Error(`search attribute ${attribute.name} is not registered:\n${listed.stdout}${listed.stderr}`);

    return {
      address,
      caCert: certs.ca,
      profileEnv,
      temporal,
      logTails,
      async restartFrontend() {
        await frontend.stop('SIGTERM');
        frontend.start();
        await answers('the restarted frontend to answer');
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
