/**
 * `tessera replication status --server URL`: live lag, queue depth, breaker
 * state and counters of a running `tessera serve`, read from its /metrics
 * (Prometheus text format; the gateway serves it unauthenticated). The
 * metrics carry bucket and rule id only: no endpoint, no credential.
 */
import { TesseraError } from '../errors';

export interface LiveRuleStatus {
  bucket: string;
  ruleId: string;
  lagSeconds: number;
  queueDepth: number;
  queueAlert: boolean;
  /** Every event up to this commit sequence is replicated. */
  applied: number;
  breaker: 'closed' | 'half-open' | 'open';
  replicated: number;
  failures: { transient: number; permanent: number; source: number };
}

const BREAKER = ['closed', 'half-open', 'open'] as const;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of the Prometheus text exposition format (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

export function liveStatusFromMetrics(text: string): LiveRuleStatus[] {
  const rows = new Map<string, LiveRuleStatus>();
  const row = (labels: Record<string, string>): LiveRuleStatus | undefined => {
    const { bucket, rule } = labels;
    if (bucket === undefined || rule === undefined) return undefined;
    const id = `${bucket}\u0000${rule}`;
    let r = rows.get(id);
    if (!r) {
      r = {
        bucket,
        ruleId: rule,
        lagSeconds: 0,
        queueDepth: 0,
        queueAlert: false,
        applied: 0,
        breaker: 'closed',
        replicated: 0,
        failures: { transient: 0, permanent: 0, source: 0 },
      };
      rows.set(id, r);
    }
    return r;
  };
  for (const s of parseMetrics(text)) {
    if (!s.name.startsWith('tessera_replication_')) continue;
    const r = row(s.labels);
    if (!r) continue;
    switch (s.name) {
      case 'tessera_replication_lag_seconds':
        r.lagSeconds = s.value;
        break;
      case 'tessera_replication_queue_depth':
        r.queueDepth = s.value;
        break;
      case 'tessera_replication_queue_alert':
        r.queueAlert = s.value === 1;
        break;
      case 'tessera_replication_cursor':
        r.applied = s.value;
        break;
      case 'tessera_replication_breaker_state':
        r.breaker = BREAKER[s.value] ?? 'open';
        break;
      case 'tessera_replication_replicated_total':
        r.replicated = s.value;
        break;
      case 'tessera_replication_failures_total': {
        const kind = s.labels.kind as keyof LiveRuleStatus['failures'] | undefined;
        if (kind !== undefined && kind in r.failures) r.failures[kind] = s.value;
        break;
      }
      default:
        break;
    }
  }
  return [...rows.values()].sort((a, b) =>
    a.bucket === b.bucket ? a.ruleId.localeCompare(b.ruleId) : a.bucket.localeCompare(b.bucket),
  );
}

/** Fetches `<server>/metrics` (5 s timeout) and reads the replication rows. */
export async function liveReplicationStatus(server: string): Promise<LiveRuleStatus[]> {
  let url: URL;
  try {
    url = new URL('/metrics', server);
  } catch {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', `--server must be a URL: ${server}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', `--server must be http(s): ${server}`);
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new TesseraError('ERR_REPLICATION_STATUS', `cannot read ${url.origin}/metrics: ${cause}`);
  }
  if (!res.ok) {
    throw new TesseraError(
      'ERR_REPLICATION_STATUS',
      `${url.origin}/metrics answered ${res.status} (is it a tessera gateway with metrics on?)`,
    );
  }
  return liveStatusFromMetrics(await res.text());
}

export function formatLive(rows: LiveRuleStatus[]): string {
  if (rows.length === 0) return 'no replication running on this server\n';
  return rows
    .map(
      (r) =>
        `${r.bucket} rule ${r.ruleId} lag ${r.lagSeconds.toFixed(3)}s queue ${r.queueDepth}` +
        `${r.queueAlert ? ' (ALERT)' : ''} cursor ${r.applied} breaker ${r.breaker}` +
        ` replicated ${r.replicated} failures ${r.failures.transient}/${r.failures.permanent}/${r.failures.source}` +
        ' (transient/permanent/source)\n',
    )
    .join('');
}
