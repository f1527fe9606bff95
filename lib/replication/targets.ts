/**
 * The gateway's replication target registry, from a JSON file (mode 0600
 * recommended): `{ "dr": { "endpoint": "https://...", "region": "us-east-1",
 * "credentials": { "accessKeyId": "...", "secretAccessKey": "..." } } }`.
 * Validated like a rule's destination; messages never quote a secret.
 */
import { readFileSync } from 'node:fs';
import { TesseraError } from '../errors';
import { type ReplicationDestination, validateReplicationConfig } from './rules';

export type ReplicationTargets = Record<string, Omit<ReplicationDestination, 'bucket'>>;

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function validateReplicationTargets(value: unknown): ReplicationTargets {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', 'replication targets must be a JSON object');
  }
  const out: ReplicationTargets = {};
  for (const [name, target] of Object.entries(value as Record<string, unknown>)) {
    if (!NAME_RE.test(name)) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `replication target names are 1..64 characters of [A-Za-z0-9._-]`,
      );
    }
    const t = (target ?? {}) as Partial<ReplicationDestination>;
    const [rule] = validateReplicationConfig({
      rules: [
        {
          id: name,
          destination: { ...t, bucket: 'placeholder-bucket' },
          deleteMarkerReplication: false,
          existingObjects: false,
        },
      ],
    }).rules;
    const d = rule!.destination;
    out[name] = { endpoint: d.endpoint, region: d.region, credentials: d.credentials };
  }
  return out;
}

export function loadReplicationTargets(file: string): ReplicationTargets {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `cannot read replication targets from ${file}: ${(error as Error).name}`,
    );
  }
  return validateReplicationTargets(parsed);
}
