/**
 * The Lua scripts of the Redis stores, read once from the .lua files beside this module (the build
 * copies them next to the compiled module: scripts/copy-lua.mjs). Each file's header documents its
 * KEYS and ARGV and its body asserts their counts; the budget scripts get common.lua prepended, so
 * every script stays self-contained for EVALSHA.
 */
import { readFileSync } from 'node:fs';

interface ScriptFile {
  file: string;
  /** Prepend common.lua (the budget scripts' shared functions). */
  common: boolean;
  /** Runs on replicas too (no writes). */
  readOnly: boolean;
}

const FILES = {
  reserve: { file: 'reserve.lua', common: true, readOnly: false },
  settle: { file: 'settle.lua', common: true, readOnly: false },
  extend: { file: 'extend.lua', common: true, readOnly: false },
  abandon: { file: 'abandon.lua', common: true, readOnly: false },
  reap: { file: 'reap.lua', common: true, readOnly: false },
  renew: { file: 'renew.lua', common: true, readOnly: false },
  balances: { file: 'balances.lua', common: true, readOnly: true },
  topup: { file: 'topup.lua', common: true, readOnly: false },
  reset: { file: 'reset.lua', common: true, readOnly: false },
  limitUses: { file: 'limit-uses.lua', common: true, readOnly: true },
  claim: { file: 'claim.lua', common: false, readOnly: false },
  metaPut: { file: 'meta-put.lua', common: false, readOnly: false },
  metaRemove: { file: 'meta-remove.lua', common: false, readOnly: false },
  metaSnapshot: { file: 'meta-snapshot.lua', common: false, readOnly: true },
  historyWrite: { file: 'history.lua', common: false, readOnly: false },
} satisfies Record<string, ScriptFile>;

export type ScriptName = keyof typeof FILES;

export interface Script {
  lua: string;
  readOnly: boolean;
}

let loaded: Record<ScriptName, Script> | undefined;

function read(file: string): string {
  return readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
}

/** Every script's source; read from disk on the first call only. */
export function scripts(): Record<ScriptName, Script> {
  if (loaded) return loaded;
  // limits.lua first: common.lua's settle_reservation settles limit holds with it.
  const common = `${read('limits.lua')}\n${read('common.lua')}`;
  const out = {} as Record<ScriptName, Script>;
  for (const [name, spec] of Object.entries(FILES) as Array<[ScriptName, ScriptFile]>) {
    const body = read(spec.file);
    out[name] = { lua: spec.common ? `${common}\n${body}` : body, readOnly: spec.readOnly };
  }
  loaded = out;
  return out;
}
