/**
 * Snapshot against log (issue 7, `tessera verify`): the index a store
 * recovers from its snapshot (plus the log after it) must equal the index
 * a full scan of the log produces. Opens the store twice, once normally and
 * once with `ignoreSnapshot`, lists every bucket and every version of every
 * key in both, and reports each difference. The store must not be open
 * elsewhere (its drives are locked).
 */
import type { NativeStoreEngine } from './engine_binding';
import { Store } from './store';

export interface SnapshotCheck {
  /** A snapshot was loaded by the normal open (else both opens scanned). */
  snapshotLoaded: boolean;
  /** Entries (buckets and versions) compared. */
  entries: number;
  /** Differences, human-readable; the first 100. */
  mismatches: string[];
}

async function dumpIndex(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const b of await store.listBuckets()) {
    out.set(`bucket ${b.name}`, `versioning=${b.versioning}`);
    for await (const v of store.bucket(b.name).listVersions()) {
      out.set(
        `${b.name}/${v.key}#${v.versionId}`,
        JSON.stringify([v.isLatest, v.deleteMarker, v.size, v.etag, v.lastModified.getTime()]),
      );
    }
  }
  return out;
}

export async function checkSnapshotAgainstLog(
  path: string,
  options: { replaceEmptyDrives?: boolean } = {},
): Promise<SnapshotCheck> {
  const open = async (ignoreSnapshot: boolean) =>
    Store.open({
      path,
      ignoreSnapshot,
      autoHeal: false,
      lifecycle: { enabled: false },
      ...options,
    });
  const first = await open(false);
  let fromSnapshot: Map<string, string>;
  let snapshotLoaded = false;
  try {
    const native = (first as unknown as { engine: NativeStoreEngine }).engine.native;
    snapshotLoaded = native.info().recoveredFromSnapshot;
    fromSnapshot = await dumpIndex(first);
  } finally {
    await first.close();
  }
  const second = await open(true);
  let fromScan: Map<string, string>;
  try {
    fromScan = await dumpIndex(second);
  } finally {
    await second.close();
  }
  const mismatches: string[] = [];
  const note = (m: string) => {
    if (mismatches.length < 100) mismatches.push(m);
  };
  for (const [k, v] of fromSnapshot) {
    const w = fromScan.get(k);
    if (w === undefined) note(`${k}: in the snapshot's index, not in the log`);
    else if (w !== v) note(`${k}: snapshot ${v}, log ${w}`);
  }
  for (const k of fromScan.keys()) {
    if (!fromSnapshot.has(k)) note(`${k}: in the log, missing from the snapshot's index`);
  }
  return { snapshotLoaded, entries: fromScan.size, mismatches };
}
