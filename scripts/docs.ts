/** Writes the files generated from the ProxyConfig schema (`npm run docs`): the reference page and schema.json. */
import { writeFileSync } from 'node:fs';
import { exportJsonSchema, renderReference } from '../src/api/proxy-config/reference.ts';

writeFileSync(new URL('../docs/reference/proxy-config.md', import.meta.url), renderReference());
writeFileSync(
  new URL('../src/api/proxy-config/schema.json', import.meta.url),
  `${JSON.stringify(exportJsonSchema(), null, 2)}\n`,
);
process.stdout.write('wrote docs/reference/proxy-config.md and src/api/proxy-config/schema.json\n');
