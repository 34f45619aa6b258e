/**
 * A small structured logger: one JSON line per event on stdout (stderr for
 * warnings and errors). Callers pass fields, never secrets: nothing here
 * inspects or redacts, so tokens must not be handed to it in the first place.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** False when lines of this level are dropped, so callers can skip building them. */
  isEnabled(level: Exclude<LogLevel, 'silent'>): boolean;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(level: LogLevel = 'info', write: (line: string, isError: boolean) => void = defaultWrite): Logger {
  const threshold = ORDER[level];
  const log = (lvl: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < threshold) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, message, ...fields }), ORDER[lvl] >= ORDER.warn);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), isEnabled: (lvl) => ORDER[lvl] >= threshold };
}

function defaultWrite(line: string, isError: boolean): void {
  (isError ? process.stderr : process.stdout).write(line + '\n');
}
