/**
 * The client side of Istio's TCP traffic shifting task, which runs `(date; sleep 1) | nc <host> <port>`
 * in a loop from a client pod: each of `--count` connections, one after another, sends one line and
 * prints the line tcp-echo answers ("one Mon Nov 12 23:24:57 UTC 2018": the server's prefix tells which
 * version answered), then closes. For images without `nc`.
 *
 * Usage: `node src/samples/tcp-echo/client.ts [host:port] [--count 1] [--message <text>] [--timeout 5000]`.
 * The target defaults to TCP_ECHO_ADDR or tcp-echo:9000; the message to the date. A connection that fails
 * or gets no whole line within the timeout prints `error <code>` in its place, and the exit status is 1.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string' },
    message: { type: 'string' },
    timeout: { type: 'string' },
  },
});

const target = positionals[0] ?? process.env.TCP_ECHO_ADDR ?? 'tcp-echo:9000';
const colon = target.lastIndexOf(':');
const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
const port = Number(target.slice(colon + 1));
const count = Number(values.count ?? 1);
const timeoutMs = Number(values.timeout ?? 5000);
if (colon <= 0 || !Number.isInteger(port) || !Number.isInteger(count) || count < 1 || !(timeoutMs > 0)) {
  console.error('usage: client.ts host:port [--count N] [--message text] [--timeout ms]');
  process.exit(2);
}

/** One connection: the first line of the reply, without its newline. */
function exchange(message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = '';
    const timer = setTimeout(
      () => socket.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${message}\n`));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const nl = received.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        socket.end();
        resolve(received.slice(0, nl));
      }
    });
    socket.on('end', () => {
      clearTimeout(timer);
      reject(Object.assign(new Error('closed before a whole line'), { code: 'EOF' }));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

let failed = 0;
for (let i = 0; i < count; i++) {
  try {
    console.log(await exchange(values.message ?? new Date().toUTCString()));
  } catch (err) {
    failed++;
    console.log(`error ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
