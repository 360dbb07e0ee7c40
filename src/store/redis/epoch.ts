/**
 * The deployment epoch of a Redis deployment ([hardening] 14.1; docs/stores.md "Redis came back
 * empty"). A Redis restarted without its data (no AOF, a flush, a new empty node) used to refill
 * every budget silently. Now a value `{p}:epoch` is written once when the deployment is first
 * initialised, every budget and metadata script checks it first (scripts.ts epochPreamble), and a
 * script that finds it missing sets the reset marker `{p}:epoch:reset`: from then on every script
 * of every instance answers 'reset' and the gateway fails closed (503 store_reset, /readyz 503)
 * until an operator calls POST /admin/store/recover, which writes a new epoch.
 *
 * Epoch values are `<id>` for a first initialisation and `<id><<previousId>` for a recovery, so an
 * instance told of a new epoch can tell the operator's recovery (adopt it) from an epoch another
 * instance created on the emptied Redis before anyone saw the reset (mark the reset: that instance
 * was serving from empty counters).
 */
import { randomBytes } from 'node:crypto';
import { type StoreEvent, type StoreReset, StoreResetError } from '../types.js';

export interface EpochReply {
  epoch: string;
  marker: string;
}

function newId(): string {
  return randomBytes(8).toString('hex');
}

const idOf = (value: string) => value.split('<')[0] ?? value;
const fromOf = (value: string) => value.split('<')[1];

export class RedisEpoch {
  readonly key: string;
  readonly markerKey: string;
  /** The epoch this instance knows; undefined when it started while the deployment was reset. */
  private known: string | undefined;
  private reset: StoreReset | undefined;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private starting: Promise<void> | undefined;
  private startedOnce = false;

  constructor(
    tag: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.key = `${tag}:epoch`;
    this.markerKey = `${tag}:epoch:reset`;
  }

  /** The two ARGV every epoch-checked script gets last. */
  argv(): [string, string] {
    return [this.key, this.known ?? ''];
  }

  state(): StoreReset | undefined {
    return this.reset;
  }

  /** The epoch this instance knows ('' when none). */
  current(): string {
    return this.known ?? '';
  }

  on(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: StoreEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** A new value for a first initialisation (init) or a recovery of the known epoch. */
  nextValue(recovering: boolean): string {
    const id = newId();
    return recovering && this.known ? `${id}<${idOf(this.known)}` : id;
  }

  /**
   * Runs `start` (epoch.lua 'init') once before the first epoch-checked script; prepare() calls it
   * at start-up, a store used without prepare() (tests, tools) on its first script. A failure (Redis
   * down) is tried again by the next caller.
   */
  async ensureStarted(start: () => Promise<void>): Promise<void> {
    if (this.startedOnce) return;
    this.starting ??= start().finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  /** The answer of epoch.lua 'init' at start-up. */
  started(reply: EpochReply): void {
    this.startedOnce = true;
    if (reply.marker === '' && reply.epoch !== '') {
      this.known = reply.epoch;
      return;
    }
    this.known = reply.epoch || undefined;
    this.enterReset(reply.marker || 'the epoch key is missing');
  }

  /** The answer of epoch.lua 'recover'. */
  recovered(reply: EpochReply): void {
    this.known = reply.epoch;
    this.leaveReset();
  }

  /**
   * A script answered 'reset'. Returns 'retry' when the new epoch is the operator's recovery of the
   * one this instance knew (adopted: run the script again), 'mark' when an epoch appeared that
   * nobody recovered to (the caller sets the marker), and throws StoreResetError otherwise.
   */
  onResetReply(reply: EpochReply): 'retry' | 'mark' {
    if (reply.marker === '' && reply.epoch !== '') {
      const known = this.known;
      // Only a recovery writes an epoch with a predecessor; a fresh one over a known epoch means an
      // instance started on the emptied Redis before anyone saw the reset.
      if (known === undefined || fromOf(reply.epoch) !== undefined) {
        this.known = reply.epoch;
        this.leaveReset();
        return 'retry';
      }
      return 'mark';
    }
    this.enterReset(reply.marker || 'the epoch key is missing');
    throw new StoreResetError(this.reset!);
  }

  /** After the marker was set for an epoch nobody recovered to. */
  marked(reason: string): never {
    this.enterReset(reason);
    throw new StoreResetError(this.reset!);
  }

  private enterReset(reason: string): void {
    if (this.reset) return;
    this.reset = { sinceMs: this.clock(), reason };
    this.emit({ type: 'reset', reason });
  }

  private leaveReset(): void {
    if (!this.reset) return;
    const was = this.reset;
    this.reset = undefined;
    this.emit({ type: 'recovered', epoch: this.known ?? '', resetSinceMs: was.sinceMs });
  }
}
