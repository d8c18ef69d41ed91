/**
 * The token bucket of Envoy's local rate limit (token_bucket: max_tokens, tokens_per_fill, fill_interval):
 * it starts full, a request takes one token, and every fill interval adds tokensPerFill tokens up to
 * maxTokens. Envoy refills from a timer; here the refill is lazy (no timer per bucket): a bucket catches
 * up on the fills it missed when it is next used, so the tokens at any moment are the same as the timer's.
 * Fill times stay on the grid the bucket started on (start + k × interval), as the timer's do.
 */

export interface TokenBucketSettings {
  maxTokens: number;
  tokensPerFill: number;
  /** Milliseconds. */
  fillInterval: number;
}

export class TokenBucket {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillInterval: number;
  readonly #now: () => number;
  #tokens: number;
  /** When the last fill happened (or the bucket started), on the clock `now`. */
  #lastFill: number;

  constructor(settings: TokenBucketSettings, now: () => number) {
    this.maxTokens = settings.maxTokens;
    this.tokensPerFill = settings.tokensPerFill;
    this.fillInterval = settings.fillInterval;
    this.#now = now;
    this.#tokens = settings.maxTokens;
    this.#lastFill = now();
  }

  /** Takes one token if there is one. */
  consume(): boolean {
    this.#refill(this.#now());
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** Tokens left now (x-ratelimit-remaining). */
  get remaining(): number {
    this.#refill(this.#now());
    return this.#tokens;
  }

  /**
   * Whole seconds until the next fill (x-ratelimit-reset), as Envoy computes it: the fill interval less the
   * whole seconds elapsed since the last fill, truncated to seconds.
   */
  get resetSeconds(): number {
    const now = this.#now();
    this.#refill(now);
    const elapsedWholeSeconds = Math.floor((now - this.#lastFill) / 1000);
    return Math.max(0, Math.trunc((this.fillInterval - elapsedWholeSeconds * 1000) / 1000));
  }

  #refill(now: number): void {
    const fills = Math.floor((now - this.#lastFill) / this.fillInterval);
    if (fills <= 0) return;
    this.#lastFill += fills * this.fillInterval;
    this.#tokens = Math.min(this.maxTokens, this.#tokens + fills * this.tokensPerFill);
  }
}
