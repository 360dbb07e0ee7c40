/** The line check-config and start-up print for models that neither YAML nor the catalogue prices. */
import type { RuntimeConfig } from './runtime.js';

export function unpricedModelsLine(config: Pick<RuntimeConfig, 'unpricedModels'>): string | undefined {
  const names = [...(config.unpricedModels?.keys() ?? [])];
  if (names.length === 0) return undefined;
  return `models with no price in the config or the price catalogue (their requests are refused): ${names.join(', ')}`;
}
