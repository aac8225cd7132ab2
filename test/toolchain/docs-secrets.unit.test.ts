import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Every Markdown file a user reads: the top-level ones, docs/ and fargate/. */
function docs(): string[] {
  const top = readdirSync(root).filter((name) => name.endsWith('.md'));
  const nested = ['docs', 'fargate'].flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `${dir}/${name}`),
  );
  return [...top, ...nested];
}

/** The lines of the fenced code blocks of a Markdown file, with their line numbers. */
function codeLines(path: string): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = [];
  let inside = false;
  readFileSync(join(root, path), 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (/^\s*```/.test(text)) inside = !inside;
      else if (inside) lines.push({ line: index + 1, text });
    });
  return lines;
}

/**
 * Ways a command puts a secret on its command line, where `ps`, shell history and CI logs keep it:
 * a secret value as an argument, or assigned in the command itself.
 */
const SECRET_ON_COMMAND_LINE: [string, RegExp][] = [
  ['--secret-string with a value instead of file://', /--secret-string\s+(?!"?file:\/\/)/],
  ['a --…secret flag with a value (use its -file form)', /--(?:[\w-]+-)?secret[\s=]+\S/],
  ['a secret assigned on the command line', /\b[A-Z_]*(SECRET|PASSWORD|TOKEN)[A-Z_]*=(?!\s|$)/],
];

describe('the docs', () => {
  it('never put a secret on a command line', () => {
    const found: string[] = [];
    for (const path of docs()) {
      for (const { line, text } of codeLines(path)) {
        for (const [what, pattern] of SECRET_ON_COMMAND_LINE) {
          if (pattern.test(text)) found.push(`${path}:${line}: ${what}: ${text.trim()}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it('would catch the commands they used to show', () => {
    const bad = [
      'export VONAGE_API_KEY=… VONAGE_API_SECRET=… VONAGE_APPLICATION_ID=…',
      "aws secretsmanager create-secret --name vonage/signature-secret --secret-string '<your signature secret>'",
      'aws secretsmanager put-secret-value --secret-id X --secret-string "$(openssl rand -hex 32)"',
      'npm run call -- --signature-secret abc123',
    ];
    for (const text of bad) {
      expect(
        SECRET_ON_COMMAND_LINE.some(([, pattern]) => pattern.test(text)),
        text,
      ).toBe(true);
    }
  });
});
