import { defineProblems, ErrorCode } from '../errors.js';

/** Problems of file sets, versions and search (the catalog). */
export const FilesetProblems = defineProblems('filesets', {
  FILESET_NOT_FOUND: { code: ErrorCode.NotFound, title: 'No such file set in this project' },
  FILESET_EXISTS: { code: ErrorCode.Conflict, title: 'A file set with this name exists already' },
  FILESET_EMPTY: { code: ErrorCode.NotFound, title: 'The file set has no version yet' },
  VERSION_NOT_FOUND: { code: ErrorCode.NotFound, title: 'The file set has no such version' },
  VERSION_LABEL_NOT_FOUND: {
    code: ErrorCode.NotFound,
    title: 'No version of the file set carries that label',
  },
  VERSION_EVICTED: {
    code: ErrorCode.NotFound,
    title: 'The version was evicted: its files are gone, its record stays',
  },
  VERSION_PINNED: {
    code: ErrorCode.Conflict,
    title: 'The version is pinned; pinned versions are never evicted',
  },
  FILE_NOT_FOUND: { code: ErrorCode.NotFound, title: 'The version has no such file' },
  RANGE_NOT_SATISFIABLE: {
    code: ErrorCode.RangeNotSatisfiable,
    title: 'The byte range asked for is outside the file',
  },
  FILESET_PARENT_MISSING: {
    code: ErrorCode.Conflict,
    title: 'The commit names a parent version that does not exist',
  },
  FILESET_PARENT_MISMATCH: {
    code: ErrorCode.Conflict,
    title: 'Another commit came first: the parent is no longer the latest version',
  },
  LABEL_INVALID: { code: ErrorCode.ValidationFailed, title: 'The label is invalid' },
  METADATA_TOO_LARGE: { code: ErrorCode.ValidationFailed, title: 'The metadata is too large' },
  PATH_INVALID: { code: ErrorCode.ValidationFailed, title: 'The file path is invalid' },
  PATH_DUPLICATE: {
    code: ErrorCode.ValidationFailed,
    title: 'The commit names the same path more than once',
  },
  DELETE_MISSING_FILE: {
    code: ErrorCode.ValidationFailed,
    title: 'The commit deletes a file the parent version does not have',
  },
  UPLOAD_MISSING: {
    code: ErrorCode.ValidationFailed,
    title: 'The commit names a file that was not uploaded',
  },
  SIZE_MISMATCH: {
    code: ErrorCode.ValidationFailed,
    title: 'A file is not the size the commit states',
  },
  SEARCH_INVALID: { code: ErrorCode.ValidationFailed, title: 'The search is invalid' },
  CURSOR_INVALID: {
    code: ErrorCode.ValidationFailed,
    title: 'The cursor is not one this search gave',
  },
  CATALOG_BEHIND: {
    code: ErrorCode.Unavailable,
    retryable: true,
    title: 'The catalog has not caught up with the event log yet',
  },
});
