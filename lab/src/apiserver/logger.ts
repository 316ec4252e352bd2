// The logging interface the lab's API server and controllers use: a subset of
// pino's Logger, so a pino logger can be passed as it is.

export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  child?(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => {};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export function childLogger(l: Logger, bindings: Record<string, unknown>): Logger {
  return l.child ? l.child(bindings) : l;
}
