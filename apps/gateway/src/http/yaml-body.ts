import { parseDocument } from 'yaml';
import { AcaiError, CommonProblems } from '@acai/contracts';

/** The YAML media types a run spec may be sent as (`application/yaml` is RFC 9512's). */
export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'] as const;

/** Aliases one YAML document may expand (a "billion laughs" document is refused, not expanded). */
const MAX_ALIASES = 100;

/**
 * Reads a YAML 1.2 document (core schema: `on`, `yes`, `no` are strings, not booleans; no dates)
 * into the plain value a JSON body would have been, for the same validation. A document that is not
 * YAML, has several documents, repeats a key or expands too many aliases is a 400 naming the line
 * and column.
 */
export function parseYamlBody(text: string): unknown {
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    uniqueKeys: true,
    prettyErrors: true,
  });
  const error = doc.errors[0];
  if (error !== undefined) {
    const at = error.linePos?.[0];
    throw new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `The body is not valid YAML${at === undefined ? '' : ` (line ${at.line}, column ${at.col})`}: ${firstLine(error.message)}`,
    );
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (cause) {
    throw new AcaiError(
      CommonProblems.INVALID_REQUEST,
      `The body is not valid YAML: ${cause instanceof Error ? firstLine(cause.message) : String(cause)}`,
      undefined,
      { cause },
    );
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
