/**
 * A real Prometheus server for tests: its own config (1 s scrape and rule evaluation), its own
 * TSDB in a temp dir, a free port on 127.0.0.1, never the distribution's service on :9090.
 * The Debian package `prometheus` provides prometheus and promtool in /usr/bin (.ci/run installs it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../../helpers/ports.js';

/** The binary on PATH, else where the Debian package puts it. */
function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin'];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path)) ?? join('/usr/bin', name);
}

export const PROMETHEUS_BIN = findBinary('prometheus');
export const PROMTOOL_BIN = findBinary('promtool');

/** Fails (never skips) when the binaries are missing, saying how to get them. */
export function requirePrometheus(): void {
  for (const bin of [PROMETHEUS_BIN, PROMTOOL_BIN]) {
    if (!existsSync(bin)) {
      throw new Error(
        `${bin} not found: the observability tests need a real Prometheus. ` +
          'Install it with `apt-get install -y prometheus` (.ci/run does this on CI).',
      );
    }
  }
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface StartedPrometheus {
  url: string;
  /** An instant query; throws with Prometheus's error text when the expression is invalid. */
  query(expr: string): Promise<PromSample[]>;
  get<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startPrometheus(options: {
  /** host:port of the gateway to scrape. */
  target: string;
  metricsToken?: string;
  ruleFiles?: string[];
}): Promise<StartedPrometheus> {
  requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'llmgw-prom-'));
  const port = await freePort();
  const configPath = join(dir, 'prometheus.yml');
  const auth = options.metricsToken
    ? `    authorization: { type: Bearer, credentials: ${JSON.stringify(options.metricsToken)} }\n`
    : '';
  writeFileSync(
    configPath,
    `global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
rule_files: ${JSON.stringify(options.ruleFiles ?? [])}
scrape_configs:
  - job_name: llm-gateway
${auth}    static_configs: [{ targets: [${JSON.stringify(options.target)}] }]
`,
  );
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`prometheus exited at start (code ${child.exitCode}): ${stderr}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`prometheus did not become ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    get,
    async query(expr) {
      const data = await get<{ resultType: string; result: PromSample[] | [number, string] }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (data.resultType === 'scalar') {
        return [{ metric: {}, value: data.result as [number, string] }];
      }
      if (data.resultType !== 'vector') throw new Error(`${expr}: unexpected result type ${data.resultType}`);
      return data.result as PromSample[];
    },
    close,
  };
}

/** promtool, with its output; rejects with the output when it reports a problem. */
export async function promtool(args: string[], input?: string): Promise<string> {
  requirePrometheus();
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL_BIN, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error) reject(new Error(`promtool ${args.join(' ')} failed: ${output}`));
      else resolve(output);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
