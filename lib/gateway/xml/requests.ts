/**
 * The request bodies S3 clients send as XML, parsed into plain values and
 * validated like their URL counterparts (keys through `validateKey`, part
 * numbers through `parsePartNumber`).
 */
import { S3Error } from '../errors';
import { delete_objects_keys_max, parsePartNumber, validateKey } from '../request/limits';
import { type XmlElement, childNamed, childrenNamed, malformedXml, parseXml } from './parse';

function expectRoot(body: Buffer | string, name: string): XmlElement {
  const root = parseXml(body);
  if (root.name !== name)
    throw malformedXml(`the root element must be <${name}>, got <${root.name}>`);
  return root;
}

export interface CompletedPart {
  readonly partNumber: number;
  /** The ETag as sent, without surrounding quotes (`"abc"`, `&quot;abc&quot;` and `abc` are the same). */
  readonly etag: string;
  /** `x-amz-checksum-*` values per part, keyed by algorithm (`CRC32`...), when the client sent them. */
  readonly checksums: Readonly<Record<string, string>>;
}

const PART_CHECKSUM_ELEMENTS = [
  'ChecksumCRC32',
  'ChecksumCRC32C',
  'ChecksumCRC64NVME',
  'ChecksumSHA1',
  'ChecksumSHA256',
];

export function stripEtagQuotes(etag: string): string {
  const trimmed = etag.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1)
    : trimmed;
}

/**
 * CompleteMultipartUpload: one or more <Part> with <PartNumber> and <ETag>,
 * in strictly ascending part order (InvalidPartOrder otherwise, as AWS).
 */
export function parseCompleteMultipartUpload(body: Buffer | string): CompletedPart[] {
  const root = expectRoot(body, 'CompleteMultipartUpload');
  const parts: CompletedPart[] = [];
  for (const part of childrenNamed(root, 'Part')) {
    const number = childNamed(part, 'PartNumber', true).text.trim();
    const etag = childNamed(part, 'ETag', true).text;
    const checksums: Record<string, string> = {};
    for (const element of PART_CHECKSUM_ELEMENTS) {
      const found = childNamed(part, element);
      if (found !== undefined) checksums[element.slice('Checksum'.length)] = found.text.trim();
    }
    parts.push({ partNumber: parsePartNumber(number), etag: stripEtagQuotes(etag), checksums });
  }
  if (parts.length === 0) throw malformedXml('<CompleteMultipartUpload> needs at least one <Part>');
  for (let i = 1; i < parts.length; i++) {
    if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
  }
  return parts;
}

export interface DeleteRequest {
  readonly quiet: boolean;
  readonly objects: ReadonlyArray<{ readonly key: string; readonly versionId: string | undefined }>;
}

function parseBoolean(element: XmlElement | undefined, fallback: boolean): boolean {
  if (element === undefined) return fallback;
  const text = element.text.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw malformedXml(`<${element.name}> must be true or false`);
}

/** DeleteObjects: 1..1000 <Object> with <Key> (validated as a key) and optional <VersionId>. */
export function parseDelete(body: Buffer | string): DeleteRequest {
  const root = expectRoot(body, 'Delete');
  const quiet = parseBoolean(childNamed(root, 'Quiet'), false);
  const elements = childrenNamed(root, 'Object');
  if (elements.length === 0) throw malformedXml('<Delete> needs at least one <Object>');
  if (elements.length > delete_objects_keys_max) {
    throw malformedXml(
      `<Delete> lists ${elements.length} objects; at most ${delete_objects_keys_max} are allowed`,
    );
  }
  const objects = elements.map((o) => ({
    key: validateKey(childNamed(o, 'Key', true).text),
    versionId: childNamed(o, 'VersionId')?.text,
  }));
  return { quiet, objects };
}

export type VersioningStatus = 'Enabled' | 'Suspended';

/** PutBucketVersioning: <Status> Enabled or Suspended; MFA delete is not supported. */
export function parseVersioningConfiguration(body: Buffer | string): {
  status: VersioningStatus | undefined;
} {
  const root = expectRoot(body, 'VersioningConfiguration');
  const status = childNamed(root, 'Status')?.text.trim();
  if (status !== undefined && status !== 'Enabled' && status !== 'Suspended') {
    throw new S3Error(
      'IllegalVersioningConfigurationException',
      `The versioning configuration specified in the request is invalid: Status must be Enabled or Suspended, got '${status}'.`,
    );
  }
  const mfa = childNamed(root, 'MfaDelete')?.text.trim();
  if (mfa !== undefined && mfa !== 'Disabled') {
    throw new S3Error('NotImplemented', 'MFA delete is not supported.');
  }
  return { status };
}

/** CreateBucket's optional body: the LocationConstraint, `undefined` when absent or empty. */
export function parseCreateBucketConfiguration(body: Buffer | string): {
  locationConstraint: string | undefined;
} {
  if ((typeof body === 'string' ? body : body.toString('latin1')).trim() === '')
    return { locationConstraint: undefined };
  const root = expectRoot(body, 'CreateBucketConfiguration');
  const location = childNamed(root, 'LocationConstraint')?.text.trim();
  return { locationConstraint: location === '' ? undefined : location };
}
