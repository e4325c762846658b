import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Controller, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AcaiError, CommonProblems } from '@acai/contracts';
import { MAX_PARAM_LENGTH, overlongParameter } from '@acai/platform';
import { Route, type RouteSpec } from '../http/routes.js';
import { DashboardFiles } from './dashboard-files.js';

/**
 * The dashboard's routes: not part of the API (so not in the route table nor the OpenAPI
 * document), open like the API's documentation: the page asks for a key, and every call it makes
 * sends it.
 */
export const DashboardRoutes = {
  page: {
    method: 'GET',
    path: '/',
    tag: 'dashboard',
    auth: 'public',
    summary: 'The ops dashboard',
    success: { status: 200, description: 'Its page', body: 'html' },
    errors: [404],
  },
  file: {
    method: 'GET',
    path: '/{path+}',
    tag: 'dashboard',
    auth: 'public',
    summary: 'A file of the ops dashboard, or its page for a path of the app',
    success: { status: 200, description: 'The file', body: 'binary' },
    errors: [404],
  },
} as const satisfies Record<string, RouteSpec>;

/** Where `node scripts/build.mjs` puts the dashboard (from src/ and from dist/ alike). */
export const DASHBOARD_DIST = path.resolve(import.meta.dirname, '../../../dashboard/dist');

/** Scripts only from the gateway itself, no framing, and calls only to this origin. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

@Controller()
export class DashboardController {
  private readonly files = new DashboardFiles(DASHBOARD_DIST);

  @Route(DashboardRoutes.page)
  async page(@Res() reply: FastifyReply): Promise<void> {
    await this.send('/', reply);
  }

  @Route(DashboardRoutes.file)
  async file(@Param() params: Record<string, string | undefined>, @Res() reply: FastifyReply) {
    await this.send(`/${params['*'] ?? ''}`, reply);
  }

  private async send(urlPath: string, reply: FastifyReply): Promise<void> {
    const answer = await this.files.answer(urlPath);
    if (answer.kind === 'none') {
      switch (answer.why) {
        case 'not-dashboard':
          // An API path the router could not match because a segment is longer than any name
          // comes here (the catch-all takes it): refused as the router would have.
          if (urlPath.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH)) {
            throw overlongParameter();
          }
          throw new AcaiError(
            CommonProblems.NO_SUCH_ROUTE,
            'No such endpoint; see /api/openapi.json',
          );
        case 'not-found':
          throw new AcaiError(CommonProblems.NO_SUCH_ROUTE, `The dashboard has no file ${urlPath}`);
        case 'not-built':
          throw new AcaiError(
            CommonProblems.NO_SUCH_ROUTE,
            'The dashboard is not built on this server: run `node scripts/build.mjs` (it builds apps/dashboard into apps/dashboard/dist)',
          );
      }
    }
    if (answer.contentType.startsWith('text/html')) {
      void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    }
    await reply
      .header('content-type', answer.contentType)
      .header('cache-control', answer.cacheControl)
      .header('content-length', answer.size)
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(answer.file));
  }
}
