// The operator's CLI (`npm run starter -- <command>`): it lives in src/cli/.
import { main } from './cli/main';

main(process.argv.slice(2));
