import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Controller, Header, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { createRequire } from 'node:module';
import { pathOf, Route, Routes } from '../http/routes.js';
import { openApiDocument } from './document.js';

const require = createRequire(import.meta.url);
const swaggerUiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** The AsyncAPI document of the event catalogue, with this deployment's subjects. */
export class EventCatalogueDocument {
  constructor(readonly document: Record<string, unknown>) {}
}

/**
 * `/api/openapi.json`, a browsable page at `/api/docs`, and the event catalogue at
 * `/api/asyncapi.json` (with this deployment's subjects); no key needed to read them.
 */
@Controller()
export class OpenApiController {
  private readonly document = openApiDocument();

  constructor(private readonly events: EventCatalogueDocument) {}

  @Route(Routes.openApi)
  openapi(): Record<string, unknown> {
    return this.document;
  }

  @Route(Routes.asyncApi)
  asyncapi(): Record<string, unknown> {
    return this.events.document;
  }

  @Route(Routes.apiDocs)
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return `<!doctype html>
<html><head><meta charset="utf-8"><title>acai API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#ui' });</script>
</body></html>`;
  }

  @Route(Routes.apiDocsAssets)
  async asset(@Param() params: unknown, @Res() reply: FastifyReply): Promise<void> {
    const { file } = pathOf(Routes.apiDocsAssets, params);
    const type = file.endsWith('.css') ? 'text/css' : 'application/javascript';
    await reply
      .header('content-type', `${type}; charset=utf-8`)
      .send(await readFile(path.join(swaggerUiDir, file), 'utf8'));
  }
}
