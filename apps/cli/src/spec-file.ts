import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RunSpecSchema } from '@acai/contracts';
import type { RunSpecInput } from '@acai/sdk';
import { CliError, ExitCode } from './exit.js';

/**
 * Reads a run spec file (JSON, or YAML for .yaml/.yml) and checks it against the run spec schema
 * before anything is sent: a bad file is a message naming the field, and exit code 2.
 */
export async function readSpecFile(file: string): Promise<RunSpecInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the spec file ${file}: ${(error as Error).message}`,
      ExitCode.Usage,
    );
  }
  const yaml = /\.ya?ml$/i.test(file);
  let value: unknown;
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `${path.basename(file)} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(error as Error).message.split('\n')[0]}`,
      ExitCode.Usage,
    );
  }
  const parsed = RunSpecSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((i) => `\n  ${i.path.length === 0 ? '(spec)' : i.path.join('.')}: ${i.message}`)
      .join('');
    throw new CliError(
      `${path.basename(file)} is not a valid run spec:${issues}\nSee the README's "The run spec" section.`,
      ExitCode.Usage,
    );
  }
  return value as RunSpecInput;
}
