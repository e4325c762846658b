import { Body, Controller, Param, Query } from '@nestjs/common';
import {
  AcaiError,
  OperationsProblems,
  type DeadLetterList,
  type RedriveResult,
} from '@acai/contracts';
import { DeadLetterAdmin, type GatheredRedrive } from '@acai/eventing';
import { bodyOf, pathOf, queryOf, Route, Routes } from '../http/routes.js';
import { decodeCursor, encodeCursor } from './dead-letter-cursor.js';

/**
 * Dead letters of every service, for the platform admin: listed and redriven through the bus, as
 * each service keeps its own (docs/operations.md).
 */
@Controller()
export class DeadLettersController {
  constructor(private readonly letters: DeadLetterAdmin) {}

  @Route(Routes.listDeadLetters)
  async list(@Query() raw: unknown): Promise<DeadLetterList> {
    const query = queryOf(Routes.listDeadLetters, raw);
    const page = await this.letters.list({
      ...(query.service === undefined ? {} : { service: query.service }),
      ...(query.consumer === undefined ? {} : { consumer: query.consumer }),
      ...(query.reason === undefined ? {} : { reason: query.reason }),
      ...(query.cursor === undefined ? {} : { after: decodeCursor(query.cursor) }),
      limit: query.limit,
      payload: query.payload === 'true' || query.payload === '1',
    });
    return {
      items: page.items,
      nextCursor: page.next === null ? null : encodeCursor(page.next),
      total: page.total,
      unanswered: page.unanswered,
    };
  }

  @Route(Routes.redriveDeadLetter)
  async redriveOne(@Param() params: unknown): Promise<RedriveResult> {
    const { id } = pathOf(Routes.redriveDeadLetter, params);
    const result = await this.letters.redrive({ ids: [id] });
    if (result.redriven.length > 0) return answer(result);
    const refused = result.refused[0];
    if (refused !== undefined) {
      throw new AcaiError(
        OperationsProblems.DEAD_LETTER_NOT_REDRIVABLE,
        refused.why === 'redriving'
          ? `Dead letter ${id} (${refused.service}, ${refused.consumer}) is being redriven already: list it to see since when; if it fails again it stays, and can be redriven again`
          : `No running replica of ${refused.service} has consumer ${refused.consumer}, which dead letter ${id} came from (one of an earlier release?): the letter stays`,
      );
    }
    const silent =
      result.unanswered.length === 0
        ? ''
        : `; ${result.unanswered.join(', ')} did not answer: if it is theirs, try again once they run`;
    throw new AcaiError(
      OperationsProblems.DEAD_LETTER_NOT_FOUND,
      `No dead letter ${id} in the services that answered${silent}`,
    );
  }

  @Route(Routes.redriveDeadLetters)
  async redriveAll(@Body() body: unknown): Promise<RedriveResult> {
    const filter = bodyOf(Routes.redriveDeadLetters, body, 'filter');
    return answer(await this.letters.redrive(filter));
  }
}

function answer(result: GatheredRedrive): RedriveResult {
  return {
    redriven: result.redriven,
    remaining: result.remaining,
    unanswered: result.unanswered,
  };
}
