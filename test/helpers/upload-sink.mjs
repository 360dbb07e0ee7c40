/**
 * A server that reads every upload to its end, discards it and answers 429 (test/hardening/
 * oversized-prompts.test.ts): the flood sent here instead of to the gateway measures what the
 * flood costs the box alone (two cores shared by its sender, this reader and the gateway), the
 * floor under what the gateway adds. Prints its URL once listening.
 */
import http from 'node:http';

const server = http.createServer((request, response) => {
  request.on('data', () => {});
  request.on('end', () => {
    response.writeHead(429, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { code: 'budget_exceeded', message: 'sink' } }));
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`http://127.0.0.1:${port}`);
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
