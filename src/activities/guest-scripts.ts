import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A guest script from src/activities/scripts/, read once when its phase module loads. The files are what
 * shellcheck checks (`npm run check`); a script gets its values as positional parameters or on stdin only.
 */
export function guestScript(fileName: string): string {
  return readFileSync(join(__dirname, 'scripts', fileName), 'utf8');
}
