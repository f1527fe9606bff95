/**
 * A `tessera serve` process over the reference model store, for the
 * shutdown tests in 64.gateway.serve.test.ts (the native Store.open is not
 * needed to test signal handling). Prints the URL on stdout once listening.
 */
import { resolveServeSettings, runServe } from '../lib/cli/serve';
import { Store } from '../lib/store/store';
import { ModelEngine } from './support/model_engine';

const settings = resolveServeSettings({ port: '0', shutdownTimeout: process.argv[2] ?? '25' });
runServe(settings, {
  openStore: async () => new Store(new ModelEngine()),
  onListening: (url) => process.stdout.write(`LISTENING ${url}\n`),
}).then((code) => {
  process.exitCode = code;
});
