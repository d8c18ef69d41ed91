/** Writes the generated reference pages (`npm run docs`). */
import { writeFileSync } from 'node:fs';
import { renderReference } from '../src/api/proxy-config/reference.ts';

writeFileSync(new URL('../docs/reference/proxy-config.md', import.meta.url), renderReference());
process.stdout.write('wrote docs/reference/proxy-config.md\n');
