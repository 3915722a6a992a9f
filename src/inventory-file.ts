import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InventorySchema, type Inventory } from './inventory';

/** Reads and validates an inventory file, YAML or JSON (JSON is YAML too); the error names every bad field. */
export function readInventoryFile(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the inventory ${path}: ${err instanceof Error ? err.message : err}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new Error(`the inventory ${path} is neither YAML nor JSON: ${err instanceof Error ? err.message : err}`);
  }
  const parsed = InventorySchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
    throw new Error(`bad inventory ${path}:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
