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
  /** Checks the deployment epoch first (epochPreamble): a Redis that came back empty answers 'reset'. */
  epoch?: boolean;
}

const FILES = {
  reserve: { file: 'reserve.lua', common: true, readOnly: false, epoch: true },
  settle: { file: 'settle.lua', common: true, readOnly: false, epoch: true },
  extend: { file: 'extend.lua', common: true, readOnly: false, epoch: true },
  abandon: { file: 'abandon.lua', common: true, readOnly: false, epoch: true },
  reap: { file: 'reap.lua', common: true, readOnly: false, epoch: true },
  renew: { file: 'renew.lua', common: true, readOnly: false, epoch: true },
  balances: { file: 'balances.lua', common: true, readOnly: true, epoch: true },
  topup: { file: 'topup.lua', common: true, readOnly: false, epoch: true },
  reset: { file: 'reset.lua', common: true, readOnly: false, epoch: true },
  limitUses: { file: 'limit-uses.lua', common: true, readOnly: true, epoch: true },
  claim: { file: 'claim.lua', common: false, readOnly: false, epoch: true },
  metaPut: { file: 'meta-put.lua', common: false, readOnly: false, epoch: true },
  metaRemove: { file: 'meta-remove.lua', common: false, readOnly: false, epoch: true },
  metaSnapshot: { file: 'meta-snapshot.lua', common: false, readOnly: true, epoch: true },
  historyWrite: { file: 'history.lua', common: false, readOnly: false },
  epoch: { file: 'epoch.lua', common: false, readOnly: false },
} satisfies Record<string, ScriptFile>;

export type ScriptName = keyof typeof FILES;

export interface Script {
  lua: string;
  readOnly: boolean;
  /** The caller appends the epoch key and the epoch it knows as the last two ARGV. */
  epoch: boolean;
}

/**
 * Put before the body of every epoch-checked script ([hardening] 14.1; docs/stores.md "Redis came
 * back empty"). It takes the last two ARGV (the epoch key {p}:epoch and the epoch this instance
 * knows) and hides them from the body behind a local ARGV, so the scripts' own layouts and asserts
 * stay as documented in their headers. A missing epoch means Redis lost its data: the script sets
 * the reset marker (writable scripts) so every instance fails closed, and answers
 * {'reset', epoch, marker} without touching anything; so does a different epoch or a set marker.
 */
function epochPreamble(writable: boolean): string {
  return `local EPOCH_KEY, EPOCH_SEEN = ARGV[#ARGV - 1], ARGV[#ARGV]
local ARGV = { unpack(ARGV, 1, #ARGV - 2) }
do
  local current = redis.call('GET', EPOCH_KEY)
  local marker = redis.call('GET', EPOCH_KEY .. ':reset')
  if current ~= EPOCH_SEEN or marker then
    ${writable ? "if not current and not marker then marker = 'the epoch key is missing'; redis.call('SET', EPOCH_KEY .. ':reset', marker) end" : ''}
    return { 'reset', current or '', marker or '' }
  end
end
`;
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
    const epoch = 'epoch' in spec && spec.epoch === true;
    const body = epoch ? `${epochPreamble(!spec.readOnly)}${read(spec.file)}` : read(spec.file);
    out[name] = { lua: spec.common ? `${common}\n${body}` : body, readOnly: spec.readOnly, epoch };
  }
  loaded = out;
  return out;
}
