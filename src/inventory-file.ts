import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InventorySchema, type Inventory } from './inventory';
import { readPrivateKey } from './remote/ssh';
import { describeIssues, InputRefused, printable } from './schema';

/** An inventory of the largest fleet is well below this; a bigger file is not one. */
const MAX_INVENTORY_BYTES = 4 << 20;

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
    keys.map(([field, path]) =>
      readPrivateKey(path).then(
        () => undefined,
        (err: Error) => `${field}: ${err.message}`,
      ),
    ),
  );
  return problems.filter((problem): problem is string => problem !== undefined);
}
