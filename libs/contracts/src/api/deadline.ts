import { z } from 'zod';

/**
 * A run's `deadline`, as a client writes it. One of:
 *
 * - an ISO 8601 date-time with its zone, `2026-12-04T18:00:00Z` or `2026-12-04T19:00:00+01:00`:
 *   that instant;
 * - a duration from submission: an ISO 8601 duration `PT45M`, `PT1H30M`, `P1DT2H` (days, hours,
 *   minutes, seconds; no years, months or weeks, whose length varies), or the same in short,
 *   `45m`, `1h30m`, `2d`, `90s` (units d, h, m, s in that order), or a number of seconds (`2700`
 *   or `"2700"`).
 *
 * Nothing else: a date without a time or a zone is refused rather than read in some zone.
 */
export type DeadlineSpec = string | number;

/** The longest duration a deadline may be: a year. */
export const MAX_DEADLINE_SECONDS = 365 * 24 * 3600;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const SHORT_DURATION =
  /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/;
const SECONDS = /^\d+(?:\.\d+)?$/;

/** What a deadline means: an instant, or a number of seconds after submission. */
export type ParsedDeadline =
  { readonly kind: 'at'; readonly at: Date } | { readonly kind: 'after'; readonly seconds: number };

/** Parses a deadline (see {@link DeadlineSpec}); a string saying what is wrong when it is not one. */
export function parseDeadline(value: DeadlineSpec): ParsedDeadline | string {
  if (typeof value === 'number') return relative(value);
  const text = value.trim();
  if (SECONDS.test(text)) return relative(Number(text));
  if (ISO_TIME.test(text)) {
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? `'${value}' is not a valid date-time` : { kind: 'at', at };
  }
  const duration =
    text.startsWith('P') && text !== 'P' && !text.endsWith('T')
      ? ISO_DURATION.exec(text)
      : text !== ''
        ? SHORT_DURATION.exec(text)
        : null;
  if (duration === null) {
    return `'${value}' is not a deadline: give an ISO 8601 date-time with its zone (2026-12-04T18:00:00Z), a duration from submission (PT45M, 45m, 1h30m) or a number of seconds`;
  }
  const [d, h, m, s] = duration.slice(1).map((part) => Number(part ?? 0));
  return relative((d ?? 0) * 86400 + (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0));
}

function relative(seconds: number): ParsedDeadline | string {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return `a deadline from submission must be more than 0 seconds, got ${seconds}`;
  }
  if (seconds > MAX_DEADLINE_SECONDS) {
    return `a deadline is at most a year (${MAX_DEADLINE_SECONDS} s) away, got ${seconds} s`;
  }
  return { kind: 'after', seconds };
}

/** The instant a deadline falls on for a run submitted at `submittedAt`. */
export function deadlineAt(parsed: ParsedDeadline, submittedAt: Date): Date {
  return parsed.kind === 'at' ? parsed.at : new Date(submittedAt.getTime() + parsed.seconds * 1000);
}

export const DeadlineSpecSchema = z
  .union([z.string().max(64), z.number()], {
    error: 'deadline must be a string (2026-12-04T18:00:00Z, PT45M, 45m) or a number of seconds',
  })
  .superRefine((value, ctx) => {
    const parsed = parseDeadline(value);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  })
  .describe(
    'When the whole run must be finished: an ISO 8601 date-time with its zone (2026-12-04T18:00:00Z), or a duration from submission as ISO 8601 (PT45M, P1DT2H), in short (45m, 1h30m, 2d, 90s) or a number of seconds. A deadline already past is refused at submit.',
  );

export const BudgetSchema = z
  .number({ error: 'budget must be a number of US dollars, e.g. 2.5' })
  .positive('budget must be more than 0 US dollars')
  .max(1_000_000, 'budget is at most 1000000 US dollars')
  .describe(
    'The most the whole run may cost, in US dollars, priced from the instance types (GET /api/v1/instance-types): each step is placed within its share, and the run stops with run.budget_exhausted when nothing fits what is left. A budget below the cheapest possible plan is refused at submit.',
  );
