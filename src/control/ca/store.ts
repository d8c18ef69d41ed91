/**
 * The CA's state directory. The files are the truth, and every step that changes them has one atomic
 * commit point, so a control plane killed at any moment restarts into a consistent CA:
 *
 *   root.crt root.key issuer.crt issuer.key   the generation that signs (root.key optional when supplied)
 *   join-token.key                            HMAC key of join tokens
 *   next/{root,issuer}.{crt,key}              rotation "published": the new generation, trusted, not signing
 *   previous-root.crt                         rotation "switched": the old root, still trusted
 *
 * A set of files is written into `<name>.tmp/` and committed by renaming the folder (`.init` on first
 * start, `next` when a rotation begins). Switching the issuer commits by writing previous-root.crt and then
 * moves next/* over the top-level files; a start that finds both next/ and previous-root.crt finishes
 * those moves. Private keys are written with mode 0600 in a folder of mode 0700.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { CaError } from '../../api/ca/index.ts';
import { createJoinTokenKey, JOIN_TOKEN_KEY_BYTES } from './join-token.ts';
import type { CaGenerationFiles } from './material.ts';

export const CA_FILES = {
  rootCert: 'root.crt',
  rootKey: 'root.key',
  issuerCert: 'issuer.crt',
  issuerKey: 'issuer.key',
  joinTokenKey: 'join-token.key',
  previousRoot: 'previous-root.crt',
  nextDir: 'next',
  initDir: '.init',
} as const;

const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIR_MODE = 0o700;

/** What a state directory holds, once any interrupted step is finished. */
export interface StoredCa {
  current: CaGenerationFiles;
  next: CaGenerationFiles | undefined;
  previousRoot: string | undefined;
  /** Things an operator should fix that do not stop the CA (key files readable by others). */
  warnings: string[];
}

/**
 * Reads the state directory (creating it when missing) after finishing any interrupted step. Returns
 * undefined when it holds no CA yet; throws CA_STATE when it holds part of one.
 */
export async function readStore(dir: string): Promise<StoredCa | undefined> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await recover(dir);
  const warnings: string[] = [];
  const current = await readGeneration(dir, dir, { rootKeyOptional: true }, warnings);
  const nextDir = path.join(dir, CA_FILES.nextDir);
  const previousRoot = await readOptional(path.join(dir, CA_FILES.previousRoot));
  const hasNext = await exists(nextDir);
  if (current === undefined) {
    if (hasNext || previousRoot !== undefined)
      throw new CaError('CA_STATE', `${dir} holds rotation files but no ${CA_FILES.rootCert}`);
    return undefined;
  }
  const next = hasNext
    ? await readGeneration(nextDir, nextDir, { rootKeyOptional: false }, warnings)
    : undefined;
  if (hasNext && next === undefined) throw new CaError('CA_STATE', `${nextDir} is empty`);
  return { current, next, previousRoot, warnings };
}

/** Writes the first generation (first start). The folder must hold no CA. */
export async function initStore(dir: string, files: CaGenerationFiles): Promise<void> {
  await writeGenerationDir(dir, CA_FILES.initDir, files);
  await moveAll(path.join(dir, CA_FILES.initDir), dir);
}

/** Rotation step 1: the new generation, trusted but not signing yet. */
export async function writeNext(dir: string, files: CaGenerationFiles): Promise<void> {
  await writeGenerationDir(dir, CA_FILES.nextDir, files);
}

/** Rotation step 2: the old root is kept for trust, and the new generation takes the top-level files. */
export async function commitSwitch(dir: string, oldRootPem: string): Promise<void> {
  await writeFileAtomic(path.join(dir, CA_FILES.previousRoot), oldRootPem, CERT_MODE);
  await moveAll(path.join(dir, CA_FILES.nextDir), dir);
}

/** Rotation step 3: the old root is no longer trusted. */
export async function removePreviousRoot(dir: string): Promise<void> {
  await unlink(path.join(dir, CA_FILES.previousRoot));
}

/** The join-token HMAC key, created on first use. */
export async function readOrCreateJoinTokenKey(dir: string): Promise<Buffer> {
  const file = path.join(dir, CA_FILES.joinTokenKey);
  const text = await readOptional(file);
  if (text !== undefined) {
    const key = Buffer.from(text.trim(), 'base64url');
    if (key.length !== JOIN_TOKEN_KEY_BYTES)
      throw new CaError('CA_STATE', `${file} must hold ${JOIN_TOKEN_KEY_BYTES} bytes in base64url`);
    return key;
  }
  const key = createJoinTokenKey();
  await writeFileAtomic(file, `${key.toString('base64url')}\n`, KEY_MODE);
  return key;
}

/** Finishes a step a crash interrupted, or discards one that never reached its commit point. */
async function recover(dir: string): Promise<void> {
  for (const staging of [CA_FILES.initDir, CA_FILES.nextDir]) {
    await rm(path.join(dir, `${staging}.tmp`), { recursive: true, force: true });
  }
  const init = path.join(dir, CA_FILES.initDir);
  if (await exists(init)) await moveAll(init, dir);
  const next = path.join(dir, CA_FILES.nextDir);
  if ((await exists(next)) && (await exists(path.join(dir, CA_FILES.previousRoot)))) await moveAll(next, dir);
}

async function readGeneration(
  dir: string,
  label: string,
  options: { rootKeyOptional: boolean },
  warnings: string[],
): Promise<CaGenerationFiles | undefined> {
  const file = (name: string) => path.join(dir, name);
  const rootCert = await readOptional(file(CA_FILES.rootCert));
  const rootKey = await readOptional(file(CA_FILES.rootKey));
  const issuerCert = await readOptional(file(CA_FILES.issuerCert));
  const issuerKey = await readOptional(file(CA_FILES.issuerKey));
  if (rootCert === undefined && rootKey === undefined && issuerCert === undefined && issuerKey === undefined)
    return undefined;
  const missing = [
    rootCert === undefined && CA_FILES.rootCert,
    rootKey === undefined && !options.rootKeyOptional && CA_FILES.rootKey,
    issuerCert === undefined && CA_FILES.issuerCert,
    issuerKey === undefined && CA_FILES.issuerKey,
  ].filter((name) => typeof name === 'string');
  if (missing.length > 0)
    throw new CaError('CA_STATE', `${label} holds part of a CA: missing ${missing.join(', ')}`);
  for (const key of [CA_FILES.rootKey, CA_FILES.issuerKey]) {
    const info = await stat(file(key)).catch(() => undefined);
    if (info !== undefined && (info.mode & 0o077) !== 0)
      warnings.push(`${file(key)} is readable by others (mode ${(info.mode & 0o777).toString(8)}); use 0600`);
  }
  return {
    rootCert: rootCert as string,
    rootKey,
    issuerCert: issuerCert as string,
    issuerKey: issuerKey as string,
  };
}

async function writeGenerationDir(dir: string, name: string, files: CaGenerationFiles): Promise<void> {
  const staging = path.join(dir, `${name}.tmp`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: DIR_MODE });
  await writeFileAtomic(path.join(staging, CA_FILES.rootCert), files.rootCert, CERT_MODE);
  if (files.rootKey !== undefined)
    await writeFileAtomic(path.join(staging, CA_FILES.rootKey), files.rootKey, KEY_MODE);
  await writeFileAtomic(path.join(staging, CA_FILES.issuerCert), files.issuerCert, CERT_MODE);
  await writeFileAtomic(path.join(staging, CA_FILES.issuerKey), files.issuerKey, KEY_MODE);
  await rename(staging, path.join(dir, name));
}

/** Moves every file of `from` into `to` (replacing), then removes `from`. Safe to run again after a crash. */
async function moveAll(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) await rename(path.join(from, name), path.join(to, name));
  await rmdir(from);
}

async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CaError('CA_STATE', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
