import { strict as assert } from 'node:assert';
import {
  parseListMultipartUploads,
  parseListObjectVersions,
  parseListObjectsV1,
  parseListObjectsV2,
  parseListParts,
} from '../lib/gateway/request/list_params';
import { parseQuery } from '../lib/gateway/request/uri';
import { expectThrow } from './60.gateway.fixtures';

describe('60 gateway list parameters', () => {
  it('ListObjects V1 as s3cmd and rclone send it', () => {
    assert.deepEqual(parseListObjectsV1(parseQuery('delimiter=%2F')), {
      prefix: '',
      delimiter: '/',
      maxKeys: 1000,
      encodingType: undefined,
      marker: undefined,
    });
    assert.deepEqual(
      parseListObjectsV1(
        parseQuery('delimiter=&max-keys=1000&prefix=&marker=a%20b&encoding-type=url'),
      ),
      {
        prefix: '',
        delimiter: undefined,
        maxKeys: 1000,
        encodingType: 'url',
        marker: 'a b',
      },
    );
  });

  it('ListObjectsV2: continuation token wins over start-after; max-keys clamps at 1000', () => {
    assert.deepEqual(
      parseListObjectsV2(
        parseQuery('list-type=2&prefix=p%2F&max-keys=2&start-after=p%2Fa&fetch-owner=true'),
      ),
      {
        prefix: 'p/',
        delimiter: undefined,
        maxKeys: 2,
        encodingType: undefined,
        continuationToken: undefined,
        startAfter: 'p/a',
        fetchOwner: true,
      },
    );
    const withToken = parseListObjectsV2(
      parseQuery('list-type=2&continuation-token=opaque%2B%2F&start-after=x&max-keys=5000'),
    );
    assert.equal(withToken.continuationToken, 'opaque+/');
    assert.equal(withToken.startAfter, undefined);
    assert.equal(withToken.maxKeys, 1000);
    assert.equal(parseListObjectsV2(parseQuery('list-type=2&max-keys=0')).maxKeys, 0);
  });

  it('refuses malformed page sizes, encodings, tokens and repeated parameters', () => {
    expectThrow(
      () => parseListObjectsV2(parseQuery('max-keys=-1')),
      'InvalidArgument',
      400,
      'Provided max-keys not an integer or within integer range',
    );
    expectThrow(() => parseListObjectsV2(parseQuery('max-keys=ten')), 'InvalidArgument', 400);
    expectThrow(
      () => parseListObjectsV1(parseQuery('encoding-type=base64')),
      'InvalidArgument',
      400,
      'Invalid Encoding Method specified in Request',
    );
    expectThrow(
      () => parseListObjectsV2(parseQuery('continuation-token=')),
      'InvalidArgument',
      400,
      'The continuation token provided is incorrect',
    );
    expectThrow(
      () => parseListObjectsV1(parseQuery('prefix=a&prefix=b')),
      'InvalidArgument',
      400,
      'prefix given more than once.',
    );
  });

  it('ListObjectVersions, ListMultipartUploads and ListParts', () => {
    assert.deepEqual(
      parseListObjectVersions(parseQuery('versions&key-marker=k&version-id-marker=v&max-keys=10')),
      {
        prefix: '',
        delimiter: undefined,
        maxKeys: 10,
        encodingType: undefined,
        keyMarker: 'k',
        versionIdMarker: 'v',
      },
    );
    expectThrow(
      () => parseListObjectVersions(parseQuery('versions&version-id-marker=v')),
      'InvalidArgument',
      400,
    );
    assert.deepEqual(
      parseListMultipartUploads(parseQuery('uploads&delimiter=&max-uploads=1000&prefix=key')),
      {
        prefix: 'key',
        delimiter: undefined,
        maxUploads: 1000,
        keyMarker: undefined,
        uploadIdMarker: undefined,
        encodingType: undefined,
      },
    );
    assert.deepEqual(parseListParts(parseQuery('uploadId=u1&max-parts=2&part-number-marker=3')), {
      uploadId: 'u1',
      maxParts: 2,
      partNumberMarker: 3,
    });
    expectThrow(() => parseListParts(parseQuery('uploadId=')), 'NoSuchUpload', 404);
    expectThrow(
      () => parseListParts(parseQuery('uploadId=u&part-number-marker=x')),
      'InvalidArgument',
      400,
    );
  });
});
