import { readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InventorySchema, type Inventory } from './inventory';
import { describeIssues, InputRefused, printable } from './schema';

/** An inventory of the largest fleet is well below this; a bigger file is not one. */
const MAX_INVENTORY_BYTES = 4 << 20;
/** An OpenSSH private key is a few KiB; anything past this is not one (or is /dev/zero). */
const MAX_PRIVATE_KEY_BYTES = 64 << 10;

/** Reads and validates an inventory file, YAML or JSON (JSON is YAML too); the error names every bad field. */
export function readInventoryFile(path: string): Inventory {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_INVENTORY_BYTES) throw new Error(`${size} bytes, more than ${MAX_INVENTORY_BYTES}`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputRefused(`cannot read the inventory ${path}: ${err instanceof Error ? err.message : err}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 0 });
  } catch (err) {
    throw new InputRefused(
      `the inventory ${path} is neither YAML nor JSON: ${err instanceof Error ? err.message : err}`,
    );
  }
  const parsed = InventorySchema.safeParse(document);
  if (!parsed.success)
    throw new InputRefused(
      `bad inventory ${path}:\n  ${describeIssues(parsed.error, '(file)').map(printable).join('\n  ')}`,
    );
  return parsed.data;
}

/** Each `privateKeyPath` of the inventory is a regular file of a key's size; the problems name the field. */
export async function privateKeyProblems(inventory: Inventory): Promise<string[]> {
  const keys = [
    ['node.privateKeyPath', inventory.node.privateKeyPath],
    ...inventory.vms.map((vm, i) => [`vms.${i}.ssh.privateKeyPath`, vm.ssh?.privateKeyPath]),
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  const problems = await Promise.all(
    keys.map(async ([field, path]) => {
      const info = await stat(path).catch((err: NodeJS.ErrnoException) => err.code ?? String(err));
      if (typeof info === 'string') return `${field}: cannot read ${path} (${info})`;
      if (!info.isFile()) return `${field}: ${path} is not a regular file`;
      if (info.size === 0 || info.size > MAX_PRIVATE_KEY_BYTES)
        return `${field}: ${path} has ${info.size} bytes, not a private key (1 to ${MAX_PRIVATE_KEY_BYTES})`;
      return undefined;
    }),
  );
  return problems.filter((problem): problem is string => problem !== undefined);
}
