/**
 * `mock-provider` command: `--port N --host H --latency-ms N --output-tokens N --chunks N
 * --openai-key K --anthropic-key K --no-record`. Resolves once the server has shut down after
 * SIGINT or SIGTERM.
 */
import { startMockProvider } from './server.js';
import type { MockProviderOptions } from './types.js';

export function parseMockProviderArgs(argv: string[]): MockProviderOptions {
  const options: MockProviderOptions = {};
  const int = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) {
      throw new Error(
        `${flag}: expected a non-negative integer, got ${value === undefined ? 'nothing' : `'${value}'`}`,
      );
    }
    return n;
  };
  const str = (flag: string, value: string | undefined): string => {
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag}: expected a value`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--port':
        options.port = int(flag, value());
        break;
      case '--host':
        options.host = str(flag, value());
        break;
      case '--latency-ms':
        options.latencyMs = int(flag, value());
        break;
      case '--output-tokens':
        options.outputTokens = int(flag, value());
        break;
      case '--chunks':
        options.chunkCount = int(flag, value());
        break;
      case '--openai-key':
        options.openaiApiKey = str(flag, value());
        break;
      case '--anthropic-key':
        options.anthropicApiKey = str(flag, value());
        break;
      case '--no-record':
        options.record = false;
        break;
      default:
        throw new Error(`mock-provider: unknown option '${arg}'`);
    }
  }
  return options;
}

export async function runMockProviderCli(argv: string[]): Promise<void> {
  const options = parseMockProviderArgs(argv);
  const mock = await startMockProvider(options);
  process.stdout.write(`mock provider listening on ${mock.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      mock.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
