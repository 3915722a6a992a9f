import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { temporalConfig, workflowUiLink, type TemporalConfig } from './config';
import { connectivityCheck } from './workflows';

interface CommandContext {
  config: TemporalConfig;
  args: string[];
  json: boolean;
}

interface Command {
  summary: string;
  run(context: CommandContext): Promise<void>;
}

async function withClient<T>(config: TemporalConfig, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: config.address, connectTimeout: '5 seconds' }).catch(
    (err: unknown) => {
      throw new Error(
        `Cannot reach the Temporal server at ${config.address} (${err instanceof Error ? err.message : err}).\n` +
          'Start one with ./temporal-dev.sh, or point TEMPORAL_ADDRESS at yours.',
      );
    },
  );
  try {
    return await use(new Client({ connection, namespace: config.namespace }));
  } finally {
    await connection.close();
  }
}

const commands: Record<string, Command> = {
  check: {
    summary: 'run a round trip through the server and a worker (is a worker polling the task queue?)',
    async run({ config, json }) {
      const workflowId = `connectivity-check-${Date.now()}`;
      console.error(
        `equivalent: temporal workflow execute --type connectivityCheck --task-queue ${config.taskQueue} --workflow-id ${workflowId}`,
      );
      const report = await withClient(config, (client) =>
        client.workflow.execute(connectivityCheck, {
          taskQueue: config.taskQueue,
          workflowId,
          // A check must not wait forever when no worker polls: fail fast with a hint instead.
          workflowExecutionTimeout: '60 seconds',
        }),
      ).catch((err: unknown) => {
        throw new Error(
          `${err instanceof Error ? err.message : err}\nIs a worker running on task queue '${config.taskQueue}'? Start one with: npm run worker`,
        );
      });
      if (json) {
        console.log(JSON.stringify(report));
      } else {
        console.log(
          `ok: worker ${report.worker.hostname} pid ${report.worker.pid} (node ${report.worker.nodeVersion}) answered on '${report.worker.taskQueue}'`,
        );
        console.log(`see it in the UI: ${workflowUiLink(config, workflowId)}`);
      }
    },
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return [
    'usage: openclaw-migrate <command> [options]',
    '',
    'Moves OpenClaw VMs from Docker to the direct (systemd) install as durable Temporal workflows.',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    '  --json      machine-readable output',
    '  -h, --help  this text',
    '',
    'environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),',
    '             TEMPORAL_TASK_QUEUE (openclaw-migrate), TEMPORAL_UI_URL (http://127.0.0.1:8233)',
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
  });
  const [name, ...args] = positionals;
  if (values.help || name === undefined || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  await command.run({ config: temporalConfig(), args, json: values.json ?? false });
  return 0;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`error: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    },
  );
}
