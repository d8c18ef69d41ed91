/**
 * undici's Pool, loaded on its own. `import { Pool } from 'undici'` loads all of undici (fetch, web
 * streams, cache, mocks): measured 9.7 MB of private memory per proxy; the pool module alone costs
 * about 6 MB. undici has no exports map, so the file is reachable; the type still comes from the package.
 */
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool: typeof UndiciPool = require('undici/lib/dispatcher/pool.js');
export type Pool = UndiciPool;
