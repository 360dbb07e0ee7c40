/**
 * The servers under test, each its own process on loopback: the mock provider, the bare proxy and
 * the gateways (SQLite; Redis; Redis traced; Redis with its history in Postgres; Redis unmetered),
 * each gateway with the bench's config (workload.ts) and its own key prefix on the one redis-server.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StartedRedis } from '../../test/helpers/redis.js';
import { answers, type Started, startNode, urlInLog } from './procs.js';
import { siblingModule } from './protocol.js';
import { gatewayConfigYaml, type Target } from './workload.js';

export interface Targets {
  servers: Map<Target, Started>;
  origins: Map<Target, string>;
}

export async function startServers(
  mainJs: string,
  dir: string,
  redis: StartedRedis,
  options: { profile: boolean; gatewayFlags: string[] },
  otlpSink: string,
  historyUrl: string | undefined,
  unmetered: boolean,
): Promise<Targets> {
  const servers = new Map<Target, Started>();
  const mockLog = join(dir, 'mock.log');
  const mock = await startNode({
    name: 'mock provider',
    args: [mainJs, 'mock-provider', '--port', '0', '--no-record'],
    logFile: mockLog,
    ready: async () => urlInLog(mockLog, 'listening on'),
  });
  servers.set('direct', mock);

  const bare = siblingModule('bare-proxy');
  const bareLog = join(dir, 'bare.log');
  servers.set(
    'bare',
    await startNode({
      name: 'bare proxy',
      args: [bare.path, '--port', '0', '--upstream', mock.url],
      execArgv: bare.execArgv,
      logFile: bareLog,
      ready: async () => urlInLog(bareLog, 'listening on'),
    }),
  );

  const env = { ...process.env };
  delete env.PORT;
  delete env.HOST;
  const profileDir = join(dir, 'profiles');
  type BenchStore = { type: 'sqlite'; path: string } | { type: 'redis'; url: string; prefix: string };
  const stores: Array<[Target, BenchStore]> = [
    ['gateway-sqlite', { type: 'sqlite', path: join(dir, 'gateway.db') }],
    ['gateway-redis', { type: 'redis', url: redis.url, prefix: 'bench' }],
    ['gateway-redis-traced', { type: 'redis', url: redis.url, prefix: 'bench-traced' }],
  ];
  if (historyUrl)
    stores.push(['gateway-redis-pghist', { type: 'redis', url: redis.url, prefix: 'bench-pghist' }]);
  if (unmetered)
    stores.push(['gateway-redis-unmetered', { type: 'redis', url: redis.url, prefix: 'bench-unmetered' }]);
  for (const [target, store] of stores) {
    const configFile = join(dir, `${target}.yaml`);
    const otlpEndpoint = target === 'gateway-redis-traced' ? otlpSink : undefined;
    const history = target === 'gateway-redis-pghist' ? historyUrl : undefined;
    writeFileSync(
      configFile,
      gatewayConfigYaml({
        mockUrl: mock.url,
        store,
        otlpEndpoint,
        historyUrl: history,
        unmetered: target === 'gateway-redis-unmetered',
      }),
    );
    const logFile = join(dir, `${target}.log`);
    const execArgv = [
      ...options.gatewayFlags,
      ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, target)}`] : []),
    ];
    servers.set(
      target,
      await startNode({
        name: target,
        args: [mainJs, 'serve', '--config', configFile],
        execArgv,
        env,
        logFile,
        ready: async () => {
          const url = urlInLog(logFile, 'listening on');
          return url && (await answers(`${url}/healthz`)) ? url : undefined;
        },
      }),
    );
  }
  const origins = new Map([...servers].map(([target, server]) => [target, server.url]));
  return { servers, origins };
}
