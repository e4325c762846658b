import {
  EventEnvelopeSchema,
  findEventDefinition,
  type DomainEvent,
  type StoredEvent,
} from '@acai/contracts';
import type { MsgHdrs } from '@nats-io/nats-core';
import { NonRetryableError } from './errors.js';

export const HEADER_TYPE = 'Acai-Type';
export const HEADER_VERSION = 'Acai-Version';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}

/**
 * Decodes and validates a stored event. Anything that cannot be read (bad JSON, an unknown
 * type or version, data that does not match its schema) is a NonRetryableError: a poison message.
 */
export function decodeEvent(
  data: Uint8Array,
  position: { stream: string; subject: string; seq: number },
): StoredEvent {
  let raw: unknown;
  try {
    raw = decodeJson(data);
  } catch (cause) {
    throw new NonRetryableError(
      'undecodable',
      `event at ${position.stream}#${position.seq} is not JSON`,
      { cause },
    );
  }
  const envelope = EventEnvelopeSchema.safeParse(raw);
  if (!envelope.success) {
    throw new NonRetryableError(
      'undecodable',
      `event at ${position.stream}#${position.seq} has no valid envelope: ${envelope.error.issues[0]?.message ?? ''}`,
    );
  }
  const def = findEventDefinition(envelope.data.type, envelope.data.version);
  if (def === undefined) {
    throw new NonRetryableError(
      'unknown_version',
      `event ${envelope.data.type} v${envelope.data.version} at ${position.stream}#${position.seq} is not in this service's catalogue; upgrade the service`,
    );
  }
  const payload = def.schema.safeParse(envelope.data.data);
  if (!payload.success) {
    const issue = payload.error.issues[0];
    throw new NonRetryableError(
      'invalid_data',
      `event ${envelope.data.type} v${envelope.data.version} at ${position.stream}#${position.seq} has invalid data: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
    );
  }
  // The catalogue entry for (type, version) validated `data`, so the pair is a DomainEvent.
  const event = { ...envelope.data, data: payload.data } as DomainEvent;
  return { ...event, position };
}

export function eventTypeOf(headers: MsgHdrs | undefined): string | undefined {
  if (headers === undefined || !headers.has(HEADER_TYPE)) return undefined;
  return headers.get(HEADER_TYPE);
}
