import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Finds (or builds, once per machine) the Temporal CLI whose dev server the integration tests start. */
export default function globalSetup(): void {
  const script = resolve(__dirname, '../../scripts/temporal-cli.sh');
  process.env.TEMPORAL_CLI = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}
