/** The logging surface the library needs; services pass their pino logger (it fits). */
export interface EventingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLogger: EventingLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

/** Injection token of the service's logger (an {@link EventingLogger}). */
export const LOGGER = Symbol.for('acai.logger');
