export * from './ports.js';
export * from './nats.js';
export * from './postgres.js';
export * from './stack.js';
