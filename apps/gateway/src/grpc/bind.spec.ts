import { describe, expect, it } from '@jest/globals';
import { addressesOf, bindErrorCode, bindFailure, grpcLogLevel, hostPort } from './bind.js';

describe('binding the gRPC server', () => {
  it('writes an IPv6 address in brackets', () => {
    expect(hostPort('127.0.0.1', 50051)).toBe('127.0.0.1:50051');
    expect(hostPort('::', 0)).toBe('[::]:0');
  });

  it('binds an IP literal as it is, a name as every address it resolves to', async () => {
    expect(await addressesOf('0.0.0.0')).toEqual(['0.0.0.0']);
    expect(await addressesOf('::1')).toEqual(['::1']);
    const local = await addressesOf('localhost');
    expect(local.length).toBeGreaterThan(0);
    expect(local.every((a) => a === '127.0.0.1' || a === '::1')).toBe(true);
  });

  it('says why a bind failed and what to set, without grpc-js’s words', () => {
    const taken =
      'No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:50051]';
    expect(bindErrorCode(taken)).toBe('EADDRINUSE');
    expect(bindFailure('127.0.0.1:50051', taken)).toBe(
      'cannot serve gRPC on 127.0.0.1:50051: the port is taken (EADDRINUSE); is another gateway there? Set ACAI_GRPC_PORT to a free port (0: any)',
    );
    expect(
      bindFailure('[::]:50051', 'listen EAFNOSUPPORT: address family not supported :::50051'),
    ).toContain('this machine has no such address (EAFNOSUPPORT; IPv6 off?); set ACAI_HTTP_HOST');
    expect(bindFailure('10.9.9.9:50051', 'listen EADDRNOTAVAIL: address not available')).toContain(
      '(EADDRNOTAVAIL; IPv6 off?)',
    );
    expect(bindFailure('127.0.0.1:80', 'listen EACCES: permission denied')).toContain(
      'set ACAI_GRPC_PORT to a port above 1023',
    );
    for (const said of [bindFailure('a:1', taken), bindFailure('a:1', 'odd')])
      expect(said).not.toContain('No address added');
  });

  it('keeps grpc-js’s own report of a failed bind out of the way, and warns with anything else', () => {
    expect(grpcLogLevel('No address added out of total 2 resolved')).toBe('debug');
    expect(grpcLogLevel('WARNING Only 1 addresses added out of total 2 resolved')).toBe('debug');
    expect(grpcLogLevel('Server constructed with unknown option')).toBe('warn');
  });
});
