/**
 * Calls to the gateway's REST API with the signed-in key (`Authorization: Bearer …`). A failed
 * call throws an ApiError holding the problem document's `detail`, which pages show as it is.
 */

const KEY = 'acai.key';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What an error says to a person: the problem document's detail, or the error's message. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (HTTP ${error.status})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The ApiError of a failed response: its problem document's detail when it has one. */
export async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let detail = text.trim() === '' ? response.statusText : text.trim().slice(0, 500);
  let reason: string | null = null;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body['detail'] === 'string') detail = body['detail'];
    if (isRecord(body) && typeof body['reason'] === 'string') reason = body['reason'];
  } catch {
    // Not a problem document: its text is the best there is.
  }
  return new ApiError(response.status, detail, reason);
}

/** Listeners told when the gateway refuses the key (401): the app signs out. */
const refusedListeners = new Set<() => void>();
export function onKeyRefused(listener: () => void): () => void {
  refusedListeners.add(listener);
  return () => refusedListeners.delete(listener);
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  readonly key?: string;
}

/** A raw call: the response, once it is known to have succeeded. */
export async function call(path: string, options: RequestOptions = {}): Promise<Response> {
  const key = options.key ?? storedKey();
  const headers: Record<string, string> = {};
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new Error(`The gateway did not answer (${describeError(error)}); is it running?`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && options.key === undefined) {
      for (const listener of refusedListeners) listener();
    }
    throw error;
  }
  return response;
}

/** A JSON call. `T` is the route's answer as the route table documents it. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await call(path, options);
  return (await response.json()) as T;
}

/** A query string of the defined values: `?limit=50&cursor=…`, or '' when none. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
