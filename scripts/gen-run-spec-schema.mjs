#!/usr/bin/env node
// Writes docs/run-spec.schema.json: the JSON Schema of the run spec (POST /api/v1/runs, JSON or
// YAML), generated from RunSpecSchema in libs/contracts. Run after changing the run spec (`npm run
// build` first); libs/contracts/src/api/run-spec.spec.ts fails until it has been run.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { format } from 'prettier';

const root = path.resolve(import.meta.dirname, '..');
const { runSpecJsonSchema } = await import(path.join(root, 'libs/contracts/dist/index.js'));
const file = path.join(root, 'docs/run-spec.schema.json');
writeFileSync(file, await format(JSON.stringify(runSpecJsonSchema()), { filepath: file }));
