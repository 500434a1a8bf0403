/**
 * Stopping a long command the way users stop things: Ctrl-C (SIGINT) or `docker stop`, `kill`, a CI
 * timeout (SIGTERM) asks the work to stop at its next safe point (a training step boundary, where a
 * checkpoint is saved); a second signal quits at once.
 */
export interface StopSignals {
  /** Aborted at the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The signal that arrived, if any. */
  readonly received: () => NodeJS.Signals | null;
  /** Removes the handlers (call when the work is done). */
  dispose(): void;
}

export function stopOnSignals(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`), what = 'stopping after this step and saving a checkpoint'): StopSignals {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (received !== null) {
      log(`\n${signal} again: quitting at once (the last checkpoint is kept).`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    received = signal;
    log(`\n${signal === 'SIGINT' ? 'interrupted' : `received ${signal}`}: ${what} (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to quit at once)`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose() {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}
