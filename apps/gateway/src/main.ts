// Instrumentation first: HTTP, fetch and Postgres are traced only if patched before they load,
// so the service itself (everything it imports) is loaded after it.
import '@acai/platform/instrumentation';

await import('./start.js');
