/**
 * Splits a streamed request body in two for RequestMirror: the original request reads one copy with its
 * own backpressure, the mirror reads the other and is never allowed to slow the first. The mirror's copy
 * is written without waiting; when it falls behind by more than a limit (a slow or stuck mirror), it is
 * given up and its owner told, so a mirror costs at most that much memory per request and never holds
 * the original back. Only streamed bodies pay for this (two PassThroughs); small bodies are read whole
 * (http/body.ts) and shared as they are.
 */
import { PassThrough, type Readable } from 'node:stream';

export interface TeeOwner {
  /** The mirror's copy fell behind by more than the limit and was given up. */
  onBacklog(): void;
}

export class Tee {
  readonly src: Readable;
  /** What the original request sends upstream instead of `src`. */
  readonly primary = new PassThrough();
  /** What the mirror sends; destroyed when it is given up. */
  readonly copy = new PassThrough();
  readonly limit: number;
  readonly owner: TeeOwner;
  #copying = true;

  constructor(src: Readable, limit: number, owner: TeeOwner) {
    this.src = src;
    this.limit = limit;
    this.owner = owner;
    src.on('data', this.#onData);
    src.once('end', this.#onEnd);
    src.once('error', this.#onError);
    src.once('close', this.#onClose);
    this.primary.on('drain', this.#onDrain);
    // The consumers (the upstream clients) listen for errors while they stream; these keep an error that
    // arrives after a consumer has finished from becoming an uncaught exception. The outcome is already
    // accounted for by each request's own handler.
    this.primary.on('error', ignore);
    this.copy.on('error', ignore);
  }

  get copying(): boolean {
    return this.#copying;
  }

  readonly #onData = (chunk: Buffer): void => {
    // The original first: its backpressure alone decides when the source pauses.
    if (!this.primary.write(chunk)) this.src.pause();
    if (!this.#copying) return;
    const copy = this.copy;
    if (copy.writableLength + copy.readableLength + chunk.length > this.limit) {
      this.stop();
      this.owner.onBacklog();
      return;
    }
    copy.write(chunk);
  };

  readonly #onDrain = (): void => {
    this.src.resume();
  };

  readonly #onEnd = (): void => {
    this.primary.end();
    if (this.#copying) this.copy.end();
  };

  readonly #onError = (err: Error): void => {
    this.primary.destroy(err);
    this.stop(err);
  };

  // The downstream went away before its body ended: the mirror's request can never complete. The
  // original is left as it would be without a tee (the listener aborts its exchange).
  readonly #onClose = (): void => {
    if (!this.src.readableEnded) this.stop(new Error('the downstream request ended before its body'));
  };

  /** Stops copying (the mirror finished, failed or fell behind); the original is not affected. */
  stop(err?: Error): void {
    if (!this.#copying) return;
    this.#copying = false;
    this.copy.destroy(err);
  }
}

function ignore(): void {}
