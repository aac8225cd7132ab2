import { Logger } from '@aws-lambda-powertools/logger';

/** Keeps what a component logs (message and fields), as an operator would read it. */
export class LogLines extends Logger {
  readonly lines: { level: string; message: string; text: string }[] = [];
  constructor() {
    super({ logLevel: 'SILENT' });
  }
  #keep(level: string, [input, ...extra]: unknown[]): void {
    const message = typeof input === 'string' ? input : JSON.stringify(input);
    const text = JSON.stringify(extra, (_key, value: unknown) =>
      value instanceof Error ? `${value.name}: ${value.message}` : value,
    );
    this.lines.push({ level, message, text: `${message} ${text}` });
  }
  override info(...args: Parameters<Logger['info']>): void {
    this.#keep('INFO', args);
  }
  override warn(...args: Parameters<Logger['warn']>): void {
    this.#keep('WARN', args);
  }
  override error(...args: Parameters<Logger['error']>): void {
    this.#keep('ERROR', args);
  }
  messages(level?: string): string[] {
    return this.lines.filter((line) => !level || line.level === level).map((line) => line.message);
  }
}
