#!/usr/bin/env node
/**
 * CLI: `serve [--config FILE] [--no-watch]`, `check-config [--config FILE]`, `mock-provider [options]`.
 * A serving gateway reloads its config on SIGHUP, on POST /admin/config/reload, and when the file
 * changes (unless --no-watch).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from './config/load.js';
import { unpricedModelsLine } from './config/unpriced.js';
import { startGateway } from './gateway.js';
import { createLogger } from './logger.js';
import { runMockProviderCli } from './mock/cli.js';

const DEFAULT_CONFIG = 'config/gateway.yaml';

function configPathFrom(args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: false });
  return typeof values.config === 'string' ? values.config : DEFAULT_CONFIG;
}

async function serveCommand(args: string[]): Promise<void> {
  const configPath = configPathFrom(args);
  const port = process.env.PORT ? Number(process.env.PORT) : undefined;
  if (port !== undefined && !Number.isInteger(port))
    throw new ConfigError('PORT', [`PORT: expected a port number, got ${process.env.PORT}`]);
  const config = loadConfigFile(configPath);
  const logger = createLogger(config.server.logLevel);
  const gateway = await startGateway({
    configPath,
    host: process.env.HOST,
    port,
    logger,
    watchConfig: !args.includes('--no-watch'),
  });
  logger.info({
    msg: `llm-budget-gateway listening on ${gateway.url}`,
    config: configPath,
    store: config.store.type,
  });

  // reload() logs the outcome; an invalid file keeps the running config.
  process.on('SIGHUP', () => {
    gateway.reload();
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const { shutdownGraceMs, preStopDelayMs = 0 } = gateway.config().server;
    logger.info({
      msg: `${signal}: readiness fails now; accepting stops after the pre-stop delay, then in-flight requests drain`,
      pre_stop_delay_ms: preStopDelayMs,
      grace_ms: shutdownGraceMs,
    });
    // Readiness first, so the load balancer stops sending before the listener goes (drain.ts).
    gateway.drain();
    const deadline = setTimeout(
      () => {
        logger.error({ msg: 'shutdown deadline passed; exiting' });
        process.exit(1);
      },
      preStopDelayMs + shutdownGraceMs + 5_000,
    );
    deadline.unref();
    if (preStopDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, preStopDelayMs));
    await gateway.close(shutdownGraceMs);
    logger.info({ msg: 'stopped' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function checkConfigCommand(args: string[]): void {
  const path = configPathFrom(args);
  const config = loadConfigFile(path);
  console.log(
    `${path}: ok (${config.models.size} models, ${config.keysByHash.size} keys, ${config.budgets.length} budgets, store ${config.store.type})`,
  );
  const unpriced = unpricedModelsLine(config);
  if (unpriced) console.log(unpriced);
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  if (command === 'serve') return serveCommand(rest);
  if (command === 'check-config') return checkConfigCommand(rest);
  if (command === 'mock-provider') return runMockProviderCli(rest);
  if (command === '--help' || command === 'help') {
    console.log('usage: llm-budget-gateway [serve|check-config|mock-provider] [--config FILE]');
    return;
  }
  // `npm start -- --config FILE` arrives here as serve's options.
  if (command.startsWith('-')) return serveCommand(argv);
  throw new Error(`unknown command ${command}; expected serve, check-config or mock-provider`);
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error instanceof Error ? error.message : error);
  }
  process.exit(1);
});
