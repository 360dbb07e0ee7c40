/**
 * A flood of large uploads from its own process (test/hardening/oversized-prompts.test.ts): the
 * refused callers of a real deployment are other machines, so their uploads must not share the
 * event loop of the client whose latency is measured. Plain node:http, so every body goes with a
 * content-length (the gateway probes large bodies by it) and is written with back-pressure.
 *
 * stdin: JSON { url, path, body, count, headers, visitorHeader, round } (a 3.9 MB body is past
 * what argv may hold). Prints one line
 * `uploading` once every body has had 256 KB taken by the gateway's socket (all of them are on
 * their way), then one line of JSON: [{ status, code }] in request order.
 */
import http from 'node:http';

const input = [];
for await (const part of process.stdin) input.push(part);
const options = JSON.parse(Buffer.concat(input).toString('utf8'));
const body = Buffer.from(options.body);
const CHUNK = 64 * 1024;
const ON_THE_WAY = 256 * 1024;
let onTheWay = 0;

function upload(index) {
  return new Promise((resolve, reject) => {
    const target = new URL(options.path, options.url);
    const request = http.request(
      target,
      {
        method: 'POST',
        agent: false,
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          'content-length': String(body.length),
          [options.visitorHeader]: `${options.round}-${index}`,
        },
      },
      (response) => {
        const parts = [];
        response.on('data', (part) => parts.push(part));
        response.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let code;
          try {
            code = JSON.parse(text).error?.code;
          } catch {
            code = `unparsed: ${text.slice(0, 80)}`;
          }
          resolve({ status: response.statusCode, code });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    let offset = 0;
    let counted = false;
    const write = () => {
      while (offset < body.length) {
        const end = Math.min(offset + CHUNK, body.length);
        const more = request.write(body.subarray(offset, end));
        offset = end;
        if (!counted && offset >= ON_THE_WAY) {
          counted = true;
          if (++onTheWay === options.count) process.stdout.write('uploading\n');
        }
        if (!more) {
          request.once('drain', write);
          return;
        }
      }
      request.end();
    };
    write();
  });
}

const answers = await Promise.all(Array.from({ length: options.count }, (_, i) => upload(i)));
process.stdout.write(`${JSON.stringify(answers)}\n`);
