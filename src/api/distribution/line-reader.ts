/**
 * Splits a byte stream into lines (LF, with an optional CR before it), as both ends of the config stream
 * read it. Chunks are kept as they arrive and joined only when a line is complete, so a multi-megabyte
 * config arriving in 16 KB frames costs one copy, not one per frame. A line longer than the limit is a
 * protocol error: the reader stops and reports it once, and the caller ends the stream.
 */

export interface LineReader {
  /** Feeds bytes; calls `onLine` for every complete line, in order. Ignored after an error. */
  push(chunk: Buffer): void;
  /** Stops reading: later bytes, and lines still in the current chunk, are dropped. */
  stop(): void;
  /** Bytes held of an incomplete line. */
  readonly pending: number;
}

export interface LineReaderOptions {
  maxLineBytes: number;
  onLine(line: string): void;
  onError(error: Error): void;
}

const LF = 0x0a;
const CR = 0x0d;

export function createLineReader(options: LineReaderOptions): LineReader {
  const { maxLineBytes, onLine, onError } = options;
  let parts: Buffer[] = [];
  let pending = 0;
  let failed = false;

  const emit = (line: Buffer) => {
    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    // Blank lines carry nothing; tolerating them lets either side add keep-alive newlines later.
    if (end > 0) onLine(line.toString('utf8', 0, end));
  };

  const tooLong = () => {
    failed = true;
    parts = [];
    pending = 0;
    onError(new Error(`a line exceeds ${maxLineBytes} bytes`));
  };

  return {
    get pending() {
      return pending;
    },
    stop() {
      failed = true;
      parts = [];
      pending = 0;
    },
    push(chunk) {
      if (failed) return;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(LF, start);
        if (nl === -1) break;
        const size = pending + (nl - start);
        if (size > maxLineBytes) return tooLong();
        const piece = chunk.subarray(start, nl);
        const line = parts.length === 0 ? piece : Buffer.concat([...parts, piece], size);
        parts = [];
        pending = 0;
        start = nl + 1;
        emit(line);
        // onLine may have called stop() (a bad message ends the stream): drop the rest of the chunk.
        if (failed) return;
      }
      if (start < chunk.length) {
        pending += chunk.length - start;
        if (pending > maxLineBytes) return tooLong();
        parts.push(start === 0 ? chunk : chunk.subarray(start));
      }
    },
  };
}
