// Structured JSON logs, one object per line. Callers pass fields, never secrets or keys.
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createLogger(base: LogFields): Logger {
  const write = (level: string, message: string, fields?: LogFields) => {
    console.log(JSON.stringify({ ts: new Date().toISOString(), level, message, ...base, ...fields }));
  };
  return {
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}
