import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it; a race with other processes is unlikely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
