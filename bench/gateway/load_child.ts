/**
 * The load generator of the gateway benchmark, in its own process so that
 * neither the server nor the trial process shares its event loop: runs
 * autocannon with the options given as JSON in argv[2] and prints its
 * result as one JSON line. Several of these may run at once (argv[3] is
 * the share of connections each drives), so one client process is not the
 * ceiling of a fast server.
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'PUT';
  headers: Record<string, string>;
  /** latin1 text of the body, for PUT. */
  body?: string;
  connections: number;
  duration: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  non2xx: number;
  latencyP50: number;
  latencyP99: number;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const result = await autocannon({
    url: options.url,
    method: options.method,
    headers: options.headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
    connections: options.connections,
    duration: options.duration,
  });
  const out: LoadResult = {
    requests: result.requests.total,
    errors: result.errors,
    non2xx: result.non2xx,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(String(error) + '\n');
    process.exit(1);
  });
}
