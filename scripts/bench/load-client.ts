/**
 * The orchestrator's handle on the load generator: forks scripts/bench/load (compiled JS, or the
 * TypeScript source through tsx under tests) and runs one spec at a time on it, calling back as
 * the measurement window opens and closes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { stopChild, track } from './procs.js';
import { type ChildMessage, type LoadResult, type LoadSpec, siblingModule } from './protocol.js';

/** The load generator child and a way to run one spec on it while sampling the server under test. */
export class LoadGenerator {
  private readonly child: ChildProcess;
  private listener: ((message: ChildMessage) => void) | undefined;

  constructor() {
    const module = siblingModule('load');
    this.child = fork(module.path, [], {
      execArgv: module.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    track(this.child);
    this.child.on('message', (message: ChildMessage) => this.listener?.(message));
  }

  get pid(): number {
    return this.child.pid!;
  }

  run(spec: LoadSpec, onWindow: (edge: 'start' | 'end') => void): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('load generator exited'));
      this.child.once('exit', onExit);
      this.listener = (message) => {
        if (message.type === 'window-start') onWindow('start');
        else if (message.type === 'window-end') onWindow('end');
        else {
          this.child.off('exit', onExit);
          this.listener = undefined;
          if (message.type === 'result') resolve(message.result);
          else reject(new Error(`load generator: ${message.message}`));
        }
      };
      this.child.send({ type: 'run', spec });
    });
  }

  async close(): Promise<void> {
    if (this.child.connected) this.child.send({ type: 'exit' });
    await stopChild(this.child, 2_000);
  }
}
