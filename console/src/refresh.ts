/**
 * Auto-refresh: runs `tick` every few seconds while the tab is visible, never two at once. A hidden
 * tab costs the gateway nothing; coming back refreshes at once.
 */
export interface AutoRefresh {
  /** Refresh now (after an action), then keep the rhythm. */
  now(): Promise<void>;
  stop(): void;
}

export function autoRefresh(tick: () => Promise<void>, everyMs: number): AutoRefresh {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const schedule = () => {
    clearTimeout(timer);
    if (!stopped && document.visibilityState === 'visible') timer = setTimeout(run, everyMs);
  };
  const run = async (): Promise<void> => {
    if (stopped) return;
    if (running) return running;
    running = tick().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  };
  const onVisibility = () => {
    if (document.visibilityState === 'visible') void run();
    else clearTimeout(timer);
  };
  document.addEventListener('visibilitychange', onVisibility);
  void run();
  return {
    now: run,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
