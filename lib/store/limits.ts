/**
 * Named limits of the object model, with units. S3's values where S3 has
 * one, so objects written through the library are valid through the
 * gateway and the other way round.
 */

/** An object key is at most this many bytes of UTF-8 (S3: 1024). */
export const OBJECT_KEY_BYTES_MAX = 1024;
/** User metadata: sum of UTF-8 bytes of names and values (S3: 2 KB). */
export const USER_METADATA_BYTES_MAX = 2048;
/** Bucket names are 3..63 characters (S3 naming rules). */
export const BUCKET_NAME_LENGTH_MIN = 3;
export const BUCKET_NAME_LENGTH_MAX = 63;
/** A single put (not multipart) is at most 5 GiB, as in S3. */
export const SINGLE_PUT_BYTES_MAX = 5 * 1024 ** 3;
/** Content-Type and other system metadata values, bytes. */
export const SYSTEM_METADATA_VALUE_BYTES_MAX = 1024;
