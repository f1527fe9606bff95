/**
 * The gateway's incomplete multipart uploads (kept in the store's
 * `tessera-multipart-uploads` bucket, lib/gateway/handlers/multipart_store.ts)
 * as the lifecycle runner sees them. Reading never creates that bucket: a
 * store the gateway never served has no uploads.
 */
import {
  MULTIPART_BUCKET,
  MultipartStore,
  type UploadRecord,
} from '../gateway/handlers/multipart_store';
import type { Store } from '../store/store';
import type { IncompleteUpload, IncompleteUploads } from './runner';

export function gatewayUploads(store: Store): IncompleteUploads {
  const multipart = new MultipartStore(store);
  return {
    async list(bucket: string): Promise<IncompleteUpload[]> {
      if (!(await store.getBucket(MULTIPART_BUCKET))) return [];
      return multipart.listUploads(bucket);
    },
    abort: (upload: IncompleteUpload) => multipart.remove(upload as UploadRecord),
  };
}
