/**
 * A stand-in for Istio's tcp-echo-server (image tcp-echo-server, main.go): a TCP server on one or more
 * ports that answers every line it reads with "<prefix> <line>". Only whole lines are answered; a
 * trailing partial line at end of stream is dropped, as the original drops it.
 *
 * Usage: `node src/samples/tcp-echo/server.ts 9000,9001,9002 hello` (the manifests' args: a comma list of
 * ports, then the prefix); separate port arguments (`9000 9001 hello`) work too. PORT, when set,
 * replaces the first port.
 * Defaults: ports 9000,9001, prefix "hello". Logs "listening on :<port>, prefix: <prefix>" per port.
 */
import net from 'node:net';
import { listenAll } from '../common/serve.ts';

const args = process.argv.slice(2);
const portArgs = args.filter((a) => /^\d+(,\d+)*$/.test(a));
const prefix = args.find((a) => !/^\d+(,\d+)*$/.test(a)) ?? 'hello';
const ports = (portArgs.length ? portArgs : ['9000,9001']).flatMap((a) => a.split(',')).map(Number);
// Weft's explicit mode gives an instance its own port for the first declared port (PORT) and keeps the
// numbers of the others, so PORT replaces the first port only.
if (process.env.PORT) ports[0] = Number(process.env.PORT);

const sockets = new Set<net.Socket>();

function handle(socket: net.Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let nl = pending.indexOf(0x0a);
    while (nl >= 0) {
      const line = pending.subarray(0, nl + 1);
      socket.write(Buffer.concat([Buffer.from(`${prefix} `), line]));
      pending = pending.subarray(nl + 1);
      nl = pending.indexOf(0x0a);
    }
  });
  socket.on('end', () => socket.end());
}

const servers: net.Server[] = [];
for (const port of ports) {
  const server = net.createServer(handle);
  const bound = await listenAll(server, port);
  servers.push(server);
  console.log(`listening on :${bound}, prefix: ${prefix}`);
}

const stop = () => {
  for (const server of servers) server.close();
  for (const socket of sockets) socket.destroy();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
