import type { z } from 'zod';
import { LineCounter, parseDocument } from 'yaml';
import { InventorySchema, type Inventory } from './inventory';
import { FileNotOpened, readRegularFile } from './regular-file';
import { readPrivateKey } from './remote/ssh';
import { describeIssues, InputRefused, printable } from './schema';

/** An inventory of the largest fleet is well below this; a bigger file is not one. */
const MAX_INVENTORY_BYTES = 4 << 20;

/**
 * Reads and validates an inventory file, YAML or JSON (JSON is YAML too); the error names every bad field.
 * `schema`: DiscoverySourceSchema for `discover`, whose inventory may have no VMs yet.
 */
export function readInventoryFile(path: string, schema: z.ZodType<Inventory, unknown> = InventorySchema): Inventory {
  let text: string;
  try {
    text = readRegularFile(path, MAX_INVENTORY_BYTES).toString('utf8');
  } catch (err) {
    throw new InputRefused(`cannot read the inventory ${path}: ${err instanceof Error ? err.message : err}`);
  }
  let document: unknown;
  try {
    document = parseStrictYaml(text);
  } catch (err) {
    throw new InputRefused(
      `the inventory ${path} is neither YAML nor JSON: ${err instanceof Error ? err.message : err}`,
    );
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success)
    throw new InputRefused(
      `bad inventory ${path}:\n  ${describeIssues(parsed.error, '(file)').map(printable).join('\n  ')}`,
    );
  if (document !== null && typeof document === 'object' && 'node' in document) writtenAsShorthand.add(parsed.data);
  return parsed.data;
}

/** The inventories read from a file that wrote the one-node shorthand: their problems name `node.…` as written. */
const writtenAsShorthand = new WeakSet<Inventory>();

/**
 * YAML 1.2's core schema and nothing else: a tag it does not know (`!!js/function`, `!!binary`, `!custom`), which
 * the parser would only warn of and read as plain text, is an error naming its line, as is an alias.
 */
function parseStrictYaml(text: string): unknown {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    resolveKnownTags: false,
    schema: 'core',
    version: '1.2',
  });
  const problems = [...document.errors, ...document.warnings].map((problem) => {
    const { line, col } = lines.linePos(problem.pos[0]);
    return `line ${line}, column ${col}: ${problem.message}`;
  });
  if (problems.length) throw new Error(problems.join('; '));
  return document.toJS({ maxAliasCount: 0 });
}

/**
 * Each `privateKeyPath` of the inventory that this machine has is a regular file of a key's size; the problems name
 * the field. A key this machine cannot open may be on the worker's alone: a warning, not a problem.
 */
export async function privateKeyProblems(inventory: Inventory): Promise<{ problems: string[]; warnings: string[] }> {
  const keys = [
    ...Object.entries(inventory.nodes).map(([name, node]) => [
      writtenAsShorthand.has(inventory) ? 'node.privateKeyPath' : `nodes.${name}.privateKeyPath`,
      node.privateKeyPath,
    ]),
    ...inventory.vms.map((vm, i) => [`vms.${i}.ssh.privateKeyPath`, vm.ssh?.privateKeyPath]),
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  const problems: string[] = [];
  const warnings: string[] = [];
  await Promise.all(
    keys.map(([field, path]) =>
      readPrivateKey(path).catch((err: Error) => {
        if (err instanceof FileNotOpened) warnings.push(`${field}: ${err.message} here; the worker must be able to`);
        else problems.push(`${field}: ${err.message}`);
      }),
    ),
  );
  return { problems, warnings };
}
