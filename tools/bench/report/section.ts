/** A report section's clock: its budget, progress lines on stderr, what it left out, and stopping on a signal. */

/** Thrown before the next measurement once SIGINT or SIGTERM arrived: the run stops without writing a report. */
export class StopRequested extends Error {
  constructor(readonly signal: string) {
    super(`stopped by ${signal} before the report was complete; nothing was written`);
  }
}

export class Section {
  /** Measurements left out because the budget was spent. */
  readonly skipped: string[] = [];
  private readonly startedMs = performance.now();

  /** @param stopSignal the signal that asked the run to stop, or null */
  constructor(
    readonly name: string,
    readonly budgetMs: number,
    private readonly stopSignal: () => string | null,
  ) {
    process.stderr.write(`[${name}] started (budget ${(budgetMs / 60_000).toFixed(1)} min)\n`);
  }

  /**
   * Before each measurement: says on stderr what runs, or returns false (and lists it as skipped) once
   * the budget is spent; throws StopRequested after a signal.
   */
  begin(what: string): boolean {
    const signal = this.stopSignal();
    if (signal !== null) throw new StopRequested(signal);
    if (this.elapsedMs() >= this.budgetMs) {
      this.skipped.push(what);
      process.stderr.write(`[${this.name}] budget spent: leaving out ${what}\n`);
      return false;
    }
    process.stderr.write(`[${this.name}] ${what}…\n`);
    return true;
  }

  elapsedMs(): number {
    return performance.now() - this.startedMs;
  }

  /** Ends the section: its time on stderr, and its entry for the report. */
  end(): { section: string; seconds: number; budgetSeconds: number; skipped: string[] } {
    const seconds = this.elapsedMs() / 1000;
    process.stderr.write(`[${this.name}] done in ${seconds.toFixed(1)} s (budget ${(this.budgetMs / 1000).toFixed(0)} s)${this.skipped.length > 0 ? `, ${this.skipped.length} left out` : ''}\n`);
    return { section: this.name, seconds, budgetSeconds: this.budgetMs / 1000, skipped: [...this.skipped] };
  }
}
