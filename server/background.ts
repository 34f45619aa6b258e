/**
 * The work a server process does besides answering requests, in one list:
 * start.ts builds it (`backgroundTasks`), starts it once, and `close()` stops
 * it once. A reader finds everything a process runs there (issue #15).
 */
import type { Logger } from './logger.js';

/** One piece of background work. */
export interface BackgroundTask {
  /** Names it in logs and in `Background.names`, e.g. `job worker`. */
  readonly name: string;
  /** Starts the work. A promise when its first run must end before the server is ready (the stale-booking sweep). */
  start(): void | Promise<void>;
  /** No further runs; resolves once the run in hand has finished. */
  stop(): Promise<void>;
}

/** The registered tasks, started and stopped together. */
export interface Background {
  /** Every registered task's name, in start order. */
  readonly names: readonly string[];
  /** The names of the tasks started and not yet stopped. */
  running(): string[];
  /**
   * Starts every task in order. When one fails to start, those already
   * started are stopped and the error is thrown.
   */
  start(): Promise<void>;
  /**
   * Stops every started task at once and waits for all of them. A task whose
   * stop fails is logged; the others still stop.
   */
  stop(): Promise<void>;
}

/**
 * The background work of one process, from its list of tasks.
 *
 * @example
 * const background = createBackground([periodicTask({ name: 'sweep', intervalMs: 60_000, run, logger }), namedTask('job worker', worker)], logger);
 * await background.start();
 * await background.stop();
 */
export function createBackground(tasks: readonly BackgroundTask[], logger: Logger): Background {
  const started = new Set<BackgroundTask>();

  async function stop(): Promise<void> {
    const stopping = [...started].map(async (task) => {
      try {
        await task.stop();
      } catch (error) {
        logger.error('background task did not stop cleanly', { task: task.name, error: (error as Error).message });
      } finally {
        started.delete(task);
      }
    });
    await Promise.all(stopping);
  }

  return {
    names: tasks.map((task) => task.name),
    running: () => tasks.filter((task) => started.has(task)).map((task) => task.name),
    async start() {
      for (const task of tasks) {
        try {
          // Counted as started before its first run ends: a stop meanwhile waits for that run.
          started.add(task);
          await task.start();
        } catch (error) {
          await stop();
          throw error;
        }
      }
    },
    stop,
  };
}

/** A job that already has `start()` and `stop()` (the job worker, the retention job), under a name. */
export function namedTask(name: string, job: { start(): void | Promise<void>; stop(): Promise<void> }): BackgroundTask {
  return { name, start: () => job.start(), stop: () => job.stop() };
}

export interface PeriodicTaskOptions {
  name: string;
  /** Time from the end of one run to the start of the next. */
  intervalMs: number;
  /**
   * One run. `stopping` is aborted when the task stops: a run that handles
   * many items should finish the one in hand and return.
   */
  run(stopping: AbortSignal): Promise<unknown>;
  /** A failed run is logged as `<name> failed`; the next run comes as usual. */
  logger: Logger;
}

/**
 * A task that runs at start (its `start()` resolves when that first run
 * ends) and then `intervalMs` after each run ends, so runs never overlap.
 * `stop()` aborts the run in hand and waits for it.
 */
export function periodicTask(options: PeriodicTaskOptions): BackgroundTask {
  const { name, intervalMs, run, logger } = options;
  let stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  function runOnce(): Promise<void> {
    const signal = stopping.signal;
    current = run(signal).then(
      () => undefined,
      (error: unknown) => logger.error(`${name} failed`, { error: (error as Error).message }),
    );
    return current.then(() => {
      if (signal.aborted) return;
      timer = setTimeout(runOnce, intervalMs);
      // The process may exit between runs.
      timer.unref();
    });
  }

  return {
    name,
    start() {
      stopping = new AbortController();
      return runOnce();
    },
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await current;
    },
  };
}
