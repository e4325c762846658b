/** What `npm run up` prints once the stack is up: where each way in is, and the key to use. */
export interface WhereThingsAre {
  /** The gateway's base URL (`http://127.0.0.1:8080`). */
  readonly gatewayUrl: string;
  /** The gateway's gRPC address (`127.0.0.1:50051`). */
  readonly grpcAddress: string;
  /** The admin key of project `default` the launcher made (a development key: shown on purpose). */
  readonly key: string;
  /** The file that key is kept in. */
  readonly keyFile: string;
}

/** The lines, one way in each, without the launcher's `[acai]` prefix. */
export function whereThingsAre(where: WhereThingsAre): string[] {
  const url = where.gatewayUrl.replace(/\/+$/, '');
  return [
    'up. Where things are:',
    `  REST API:  ${url}/api/v1   (OpenAPI: ${url}/api/openapi.json, docs: ${url}/api/docs)`,
    `  dashboard: ${url}/   (sign in with the key below)`,
    `  gRPC:      ${where.grpcAddress}   (e.g. grpcurl -plaintext ${where.grpcAddress} list)`,
    `  events:    ${url}/api/v1/events   (Server-Sent Events; event types: ${url}/api/asyncapi.json)`,
    `  key:       ${where.key}   (admin of project "default", kept in ${where.keyFile})`,
    `  e.g.  npx acai login --url ${url} --key "$(cat ${where.keyFile})"`,
  ];
}
