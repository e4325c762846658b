import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';
import { createRequire } from 'node:module';
import { Public } from '../auth/auth.guard.js';
import { openApiDocument } from './document.js';

const require = createRequire(import.meta.url);
const swaggerUiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** `/api/openapi.json` and a browsable page at `/api/docs`; no key needed to read them. */
@Controller('api')
@Public()
export class OpenApiController {
  private readonly document = openApiDocument();

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return this.document;
  }

  @Get('docs')
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

  @Get('docs/assets/swagger-ui.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  css(): Promise<string> {
    return readFile(path.join(swaggerUiDir, 'swagger-ui.css'), 'utf8');
  }

  @Get('docs/assets/swagger-ui-bundle.js')
  @Header('Content-Type', 'application/javascript; charset=utf-8')
  script(): Promise<string> {
    return readFile(path.join(swaggerUiDir, 'swagger-ui-bundle.js'), 'utf8');
  }
}
