/**
 * Which models a caller may use: the key's list, else the trial's for anonymous users, else all.
 * The one forbidden-model check of the gateway; admission returns its denial and the HTTP edge
 * words it (src/http/denial-errors.ts).
 */
import type { RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import type { Denial } from './denials.js';
import type { Identity } from './types.js';

/** undefined = every configured model. */
export function allowedModelsOf(cfg: RuntimeConfig, identity: Identity): ReadonlySet<string> | undefined {
  if (identity.allowedModels) return identity.allowedModels;
  if (identity.anonymous && cfg.anonymous.models.size > 0) return cfg.anonymous.models;
  return undefined;
}

export function forbiddenModel(
  cfg: RuntimeConfig,
  identity: Identity,
  model: RuntimeModel,
): Extract<Denial, { kind: 'forbidden_model' }> | undefined {
  const allowed = allowedModelsOf(cfg, identity);
  if (!allowed || allowed.has(model.name)) return undefined;
  return {
    kind: 'forbidden_model',
    model: model.name,
    keyId: identity.keyId,
    anonymous: identity.anonymous,
    // Trial users have no key to ask about; they are told what the trial does offer.
    ...(identity.anonymous ? { allowed: [...allowed] } : {}),
  };
}
