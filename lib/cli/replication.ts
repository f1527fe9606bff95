/**
 * `tessera replication status`: the replication rules and durable cursors
 * of a store that is not open elsewhere (the store is single-writer), or,
 * with --server, the live lag and queue depth of a running server read from
 * its metrics (replication_live.ts). Credentials are never printed.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TesseraError } from '../errors';
import { Store } from '../store/store';
import { CURSOR_KIND, RULES_KIND } from '../replication/manager';
import { type ReplicationConfig, redactRule } from '../replication/rules';
import { StoreConfigAdapter } from '../replication/state';
import type { WorkerCursor } from '../replication/worker';
import { isStoreDir } from './store_path';
import { formatLive, liveReplicationStatus } from './replication_live';

interface StatusFlags {
  dataDir?: string;
  json?: boolean;
  server?: string;
}

export interface OfflineRuleStatus {
  bucket: string;
  ruleId: string;
  endpoint: string;
  destinationBucket: string;
  prefix?: string;
  deleteMarkerReplication: boolean;
  existingObjects: boolean;
  /** Every event up to this commit sequence is replicated; undefined before the first start. */
  applied?: number;
  failed: number;
  backfill: 'none' | 'running' | 'complete';
}

export async function offlineReplicationStatus(store: Store): Promise<OfflineRuleStatus[]> {
  const configs = new StoreConfigAdapter(store.bucketConfigs);
  const out: OfflineRuleStatus[] = [];
  for (const { bucket, value } of await configs.list<ReplicationConfig>(RULES_KIND)) {
    const cursors = (await configs.get<Record<string, WorkerCursor>>(bucket, CURSOR_KIND)) ?? {};
    for (const rule of value.rules) {
      const r = redactRule(rule);
      const c = cursors[rule.id];
      const row: OfflineRuleStatus = {
        bucket,
        ruleId: r.id,
        endpoint: r.destination.endpoint,
        destinationBucket: r.destination.bucket,
        deleteMarkerReplication: r.deleteMarkerReplication,
        existingObjects: r.existingObjects,
        failed: c?.failed.length ?? 0,
        backfill: !c?.backfill ? 'none' : c.backfill.complete ? 'complete' : 'running',
      };
      if (r.prefix !== undefined) row.prefix = r.prefix;
      if (c) row.applied = c.applied;
      out.push(row);
    }
  }
  return out;
}

async function runStatus(flags: StatusFlags): Promise<void> {
  if (flags.server !== undefined) {
    const rows = await liveReplicationStatus(flags.server);
    process.stdout.write(flags.json ? JSON.stringify({ rules: rows }) + '\n' : formatLive(rows));
    return;
  }
  const path = resolve(flags.dataDir ?? process.env.TESSERA_DATA_DIR ?? './tessera-data');
  if (!isStoreDir(path)) {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', `no tessera store at ${path}`);
  }
  const store = await Store.open({ path });
  try {
    const rows = await offlineReplicationStatus(store);
    if (flags.json) {
      process.stdout.write(JSON.stringify({ rules: rows }) + '\n');
      return;
    }
    if (rows.length === 0) {
      process.stdout.write('no replication rules\n');
      return;
    }
    for (const r of rows) {
      process.stdout.write(
        `${r.bucket} rule ${r.ruleId} -> ${r.endpoint}/${r.destinationBucket}` +
          `${r.prefix !== undefined ? ` prefix ${JSON.stringify(r.prefix)}` : ''}` +
          ` deletes ${r.deleteMarkerReplication ? 'on' : 'off'}` +
          ` cursor ${r.applied ?? 'not started'} failed ${r.failed} backfill ${r.backfill}\n`,
      );
    }
  } finally {
    await store.close();
  }
}

export function registerReplication(program: Command): void {
  const replication = program
    .command('replication')
    .description('bucket replication (docs/replication.md)');
  replication
    .command('status')
    .description(
      'replication rules and durable cursors of a store that is not open elsewhere, ' +
        'or with --server the live lag and queue of a running server',
    )
    .option('--data-dir <dir>', 'store directory (env TESSERA_DATA_DIR, default ./tessera-data)')
    .option('--server <url>', "a running server's gateway URL: live status from its /metrics")
    .option('--json', 'print one JSON document')
    .action(async (flags: StatusFlags) => {
      await runStatus(flags);
    });
}
