"""A current boto3 (>= 1.36: CRC32 request checksums by default) against a
running `tessera serve`; driven by test/63.gateway.boto3.test.ts.

Usage: python3 boto3_suite.py --endpoint URL [--tls-endpoint URL --ca FILE]
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

Every case prints one line `CASE {"name": ..., "ok": bool, "error": ...}`;
the script itself exits 0 unless it cannot start. A case asserts outcomes:
bytes read back, exact botocore ClientError codes, and (through a
before-send hook) what boto3 actually put on the wire, so a case cannot
pass by taking a different path than the one it names.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import zlib

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def pattern(size, seed):
    """Deterministic, incompressible-enough bytes."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])


class Wire:
    """Records the headers of every request boto3 sends."""

    def __init__(self):
        self.sent = []

    def hook(self, request, **_):
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        self.sent.append((request.method, request.url, headers))

    def clear(self):
        self.sent = []

    def find(self, method, needle):
        return [h for m, u, h in self.sent if m == method and needle in u]


def make_client(endpoint, wire, ca=None, **config):
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        verify=ca if ca else None,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            **config,
        ),
    )
    client.meta.events.register("before-send.s3.*", wire.hook)
    return client


def error_code(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected a ClientError, the call succeeded")


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def ensure(cond, what):
    if not cond:
        raise AssertionError(what)


class Suite:
    def __init__(self, args):
        self.wire = Wire()
        self.s3 = make_client(args.endpoint, self.wire)
        self.s3_required = make_client(
            args.endpoint,
            self.wire,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.s3v4 = make_client(args.endpoint, self.wire, signature_version="s3v4")
        self.tls = (
            make_client(args.tls_endpoint, self.wire, ca=args.ca) if args.tls_endpoint else None
        )
        self.bucket = "boto3-" + hashlib.sha1(str(time.time()).encode()).hexdigest()[:10]
        self.tmp = tempfile.mkdtemp(prefix="tessera-boto3-")

    # -- buckets ------------------------------------------------------------

    def case_buckets(self):
        s3 = self.s3
        name = self.bucket + "-b"
        s3.create_bucket(Bucket=name)
        # us-east-1: creating a bucket you already own answers 200.
        s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        ensure(name in names, f"{name} not in list_buckets {names}")
        loc = s3.get_bucket_location(Bucket=name)
        eq(loc.get("LocationConstraint"), None, "LocationConstraint")
        s3.delete_bucket(Bucket=name)
        eq(error_code(s3.head_bucket, Bucket=name), ("404", 404), "head_bucket after delete")
        eq(error_code(s3.delete_bucket, Bucket=name), ("NoSuchBucket", 404), "delete missing")
        eq(error_code(s3.create_bucket, Bucket="Bad_Name"), ("InvalidBucketName", 400), "bad name")
        # The main bucket for every other case.
        s3.create_bucket(Bucket=self.bucket)

    # -- objects ------------------------------------------------------------

    def case_put_get_head_metadata(self):
        s3 = self.s3
        body = pattern(100_000, 1)
        put = s3.put_object(
            Bucket=self.bucket,
            Key="meta/object.bin",
            Body=body,
            ContentType="application/x-tessera",
            Metadata={"camera": "x100", "Mixed-Case": "Value with spaces"},
            CacheControl="max-age=60",
            ContentDisposition='attachment; filename="o.bin"',
        )
        eq(put["ETag"], f'"{md5_hex(body)}"', "put ETag")
        got = s3.get_object(Bucket=self.bucket, Key="meta/object.bin")
        eq(got["Body"].read(), body, "get body")
        eq(got["ContentType"], "application/x-tessera", "ContentType")
        eq(got["ContentLength"], len(body), "ContentLength")
        eq(got["Metadata"], {"camera": "x100", "mixed-case": "Value with spaces"}, "Metadata")
        eq(got["CacheControl"], "max-age=60", "CacheControl")
        eq(got["ContentDisposition"], 'attachment; filename="o.bin"', "ContentDisposition")
        eq(got["ETag"], put["ETag"], "get ETag")
        head = s3.head_object(Bucket=self.bucket, Key="meta/object.bin")
        eq(head["ContentLength"], len(body), "head length")
        eq(head["Metadata"], got["Metadata"], "head Metadata")
        eq(head["ETag"], put["ETag"], "head ETag")
        # An empty object and a file-like body.
        s3.put_object(Bucket=self.bucket, Key="meta/empty", Body=b"")
        eq(s3.get_object(Bucket=self.bucket, Key="meta/empty")["Body"].read(), b"", "empty")
        s3.put_object(Bucket=self.bucket, Key="meta/stream", Body=io.BytesIO(body))
        eq(s3.get_object(Bucket=self.bucket, Key="meta/stream")["Body"].read(), body, "stream")

    def case_checksum_default_crc32(self):
        """boto3 >= 1.36 sends x-amz-checksum-crc32 on every PutObject over
        http (payload signed); the gateway verifies, stores and returns it."""
        s3 = self.s3
        body = pattern(300_000, 2)
        self.wire.clear()
        put = s3.put_object(Bucket=self.bucket, Key="ck/default", Body=body)
        sent = self.wire.find("PUT", "/ck/default")[0]
        eq(sent.get("x-amz-checksum-crc32"), crc32_b64(body), "sent CRC32 header")
        eq(put.get("ChecksumCRC32"), crc32_b64(body), "returned ChecksumCRC32")
        got = s3.get_object(Bucket=self.bucket, Key="ck/default", ChecksumMode="ENABLED")
        eq(got["ChecksumCRC32"], crc32_b64(body), "stored ChecksumCRC32")
        eq(got["Body"].read(), body, "body (botocore validated the CRC32 while reading)")
        head = s3.head_object(Bucket=self.bucket, Key="ck/default", ChecksumMode="ENABLED")
        eq(head["ChecksumCRC32"], crc32_b64(body), "head ChecksumCRC32")
        # Other algorithms the SDK offers.
        # (CRC32C and CRC64NVME need botocore[crt]; test/61 covers them with the JS SDK.)
        for algo in ("SHA1", "SHA256"):
            s3.put_object(Bucket=self.bucket, Key=f"ck/{algo}", Body=body, ChecksumAlgorithm=algo)
            got = s3.get_object(Bucket=self.bucket, Key=f"ck/{algo}", ChecksumMode="ENABLED")
            ensure(got.get("Checksum" + algo), f"no Checksum{algo} returned")
            eq(got["Body"].read(), body, f"{algo} body")
        # A wrong checksum is refused and nothing is stored.
        code = error_code(
            s3.put_object, Bucket=self.bucket, Key="ck/wrong", Body=body, ChecksumCRC32="AAAAAA=="
        )
        eq(code, ("BadDigest", 400), "wrong CRC32")
        eq(error_code(s3.head_object, Bucket=self.bucket, Key="ck/wrong"), ("404", 404), "stored?")

    def case_checksum_when_required(self):
        s3 = self.s3_required
        body = pattern(70_000, 3)
        self.wire.clear()
        s3.put_object(Bucket=self.bucket, Key="ck/required", Body=body)
        sent = self.wire.find("PUT", "/ck/required")[0]
        ensure(
            not any(k.startswith("x-amz-checksum-") for k in sent),
            f"when_required sent a checksum: {sorted(sent)}",
        )
        eq(s3.get_object(Bucket=self.bucket, Key="ck/required")["Body"].read(), body, "body")
        # DeleteObjects is an operation that requires a checksum: even
        # when_required sends one (CRC32 in botocore >= 1.36, Content-MD5 before).
        self.wire.clear()
        out = s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": "ck/required"}, {"Key": "ck/none"}]}
        )
        sent = self.wire.find("POST", "?delete")[0]
        ensure(
            "content-md5" in sent or "x-amz-checksum-crc32" in sent,
            f"no checksum on DeleteObjects: {sorted(sent)}",
        )
        eq(sorted(d["Key"] for d in out["Deleted"]), ["ck/none", "ck/required"], "Deleted")
        eq(error_code(s3.head_object, Bucket=self.bucket, Key="ck/required"), ("404", 404), "gone")

    def case_checksum_tls_trailer(self):
        """Over https boto3 sends PutObject as aws-chunked with a CRC32
        trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER, Transfer-Encoding:
        chunked, no Content-Length): what the gateway sees behind a TLS
        terminator."""
        if self.tls is None:
            raise SkipCase("no TLS endpoint (openssl missing)")
        s3 = self.tls
        for size in (0, 1, 65_536, 1_000_003):
            body = pattern(size, 4 + size)
            key = f"tls/trailer-{size}"
            self.wire.clear()
            put = s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="text/x-t")
            sent = self.wire.find("PUT", "/" + key)[0]
            eq(sent.get("x-amz-trailer"), "x-amz-checksum-crc32", "x-amz-trailer")
            eq(sent.get("x-amz-content-sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "mode")
            eq(sent.get("transfer-encoding"), "chunked", "transfer-encoding")
            eq(put["ETag"], f'"{md5_hex(body)}"', "ETag")
            got = s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            eq(got["Body"].read(), body, f"body of {size}")
            eq(got["ChecksumCRC32"], crc32_b64(body), "trailer CRC32 stored")
            eq(got["ContentType"], "text/x-t", "content type (aws-chunked not stored)")
            eq(got.get("ContentEncoding"), None, "ContentEncoding")
        # s3transfer multipart over TLS: every part is aws-chunked too.
        path = os.path.join(self.tmp, "tls-upload.bin")
        data = pattern(11 * MIB + 5, 44)
        with open(path, "wb") as f:
            f.write(data)
        cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=3)
        s3.upload_file(path, self.bucket, "tls/multipart", Config=cfg)
        eq(self.s3.get_object(Bucket=self.bucket, Key="tls/multipart")["Body"].read(), data, "mp")

    # -- ranges -------------------------------------------------------------

    def case_ranges(self):
        s3 = self.s3
        body = pattern(10_000, 5)
        s3.put_object(Bucket=self.bucket, Key="range/o", Body=body)
        for rng, lo, hi in (("bytes=0-9", 0, 9), ("bytes=9990-", 9990, 9999), ("bytes=-5", 9995, 9999),
                            ("bytes=100-20000", 100, 9999)):
            got = s3.get_object(Bucket=self.bucket, Key="range/o", Range=rng)
            eq(got["ResponseMetadata"]["HTTPStatusCode"], 206, f"{rng} status")
            eq(got["ContentRange"], f"bytes {lo}-{hi}/10000", f"{rng} Content-Range")
            eq(got["Body"].read(), body[lo : hi + 1], f"{rng} bytes")
        eq(
            error_code(s3.get_object, Bucket=self.bucket, Key="range/o", Range="bytes=10000-"),
            ("InvalidRange", 416),
            "range past the end",
        )

    # -- listing ------------------------------------------------------------

    LIST_KEYS = [
        "list/a.txt",
        "list/dir1/x",
        "list/dir1/y",
        "list/dir2/z",
        "list/ünïcødé/ключ 1",
        "list/日本語.txt",
        "list/space key",
        "list/plus+key",
        "list/percent%20key",
        "list/tab\tkey",
    ]

    def case_list_v2_paginate(self):
        s3 = self.s3
        for k in self.LIST_KEYS:
            s3.put_object(Bucket=self.bucket, Key=k, Body=k.encode())
        pages = list(
            s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix="list/", PaginationConfig={"PageSize": 3}
            )
        )
        ensure(len(pages) >= 4, f"expected >= 4 pages of 3, got {len(pages)}")
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        eq(keys, sorted(self.LIST_KEYS, key=lambda k: k.encode()), "keys in UTF-8 order")
        # delimiter
        pages = list(
            s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 2}
            )
        )
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        eq(prefixes, ["list/dir1/", "list/dir2/", "list/ünïcødé/"], "CommonPrefixes")
        eq(len(keys) + len(prefixes), 9, "keys + prefixes")
        # StartAfter, and V1 with markers.
        after = s3.list_objects_v2(Bucket=self.bucket, Prefix="list/", StartAfter="list/space key")
        eq([o["Key"] for o in after["Contents"]], sorted(
            [k for k in self.LIST_KEYS if k.encode() > b"list/space key"], key=lambda k: k.encode()
        ), "StartAfter")
        v1 = [
            o["Key"]
            for p in s3.get_paginator("list_objects").paginate(
                Bucket=self.bucket, Prefix="list/", PaginationConfig={"PageSize": 4}
            )
            for o in p.get("Contents", [])
        ]
        eq(v1, sorted(self.LIST_KEYS, key=lambda k: k.encode()), "V1 keys")
        for k in self.LIST_KEYS:
            eq(s3.get_object(Bucket=self.bucket, Key=k)["Body"].read(), k.encode(), f"get {k!r}")

    # -- transfers ----------------------------------------------------------

    def case_upload_download_multipart(self):
        s3 = self.s3
        path = os.path.join(self.tmp, "upload.bin")
        data = pattern(17 * MIB + 123, 6)
        with open(path, "wb") as f:
            f.write(data)
        cfg = TransferConfig(
            multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4
        )
        self.wire.clear()
        s3.upload_file(
            path, self.bucket, "mp/file.bin", Config=cfg,
            ExtraArgs={"ContentType": "application/x-big", "Metadata": {"k": "v"}},
        )
        parts = self.wire.find("PUT", "partNumber=")
        eq(len(parts), 4, "UploadPart requests")
        head = s3.head_object(Bucket=self.bucket, Key="mp/file.bin")
        eq(head["ContentLength"], len(data), "length")
        ensure(head["ETag"].endswith('-4"'), f"multipart ETag {head['ETag']}")
        eq(head["ContentType"], "application/x-big", "ContentType")
        eq(head["Metadata"], {"k": "v"}, "Metadata")
        out = os.path.join(self.tmp, "download.bin")
        self.wire.clear()
        s3.download_file(self.bucket, "mp/file.bin", out, Config=cfg)
        ranged = [h for h in self.wire.find("GET", "/mp/file.bin") if "range" in h]
        ensure(len(ranged) >= 2, f"download_file made {len(ranged)} ranged GETs")
        with open(out, "rb") as f:
            eq(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest(), "download")
        # upload_fileobj / download_fileobj with the when_required client.
        buf = io.BytesIO()
        self.s3_required.upload_fileobj(io.BytesIO(data[: 6 * MIB]), self.bucket, "mp/obj", Config=cfg)
        self.s3_required.download_fileobj(self.bucket, "mp/obj", buf, Config=cfg)
        eq(buf.getvalue(), data[: 6 * MIB], "fileobj round trip")
        # Managed copy above the threshold: UploadPartCopy with ranges.
        self.wire.clear()
        s3.copy({"Bucket": self.bucket, "Key": "mp/file.bin"}, self.bucket, "mp/copy.bin", Config=cfg)
        copies = [h for h in self.wire.find("PUT", "/mp/copy.bin") if "x-amz-copy-source-range" in h]
        ensure(len(copies) >= 2, f"managed copy made {len(copies)} UploadPartCopy requests")
        got = s3.get_object(Bucket=self.bucket, Key="mp/copy.bin")["Body"].read()
        eq(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest(), "managed copy")

    def case_multipart_low_level(self):
        s3 = self.s3
        up = s3.create_multipart_upload(Bucket=self.bucket, Key="mp/low", ChecksumAlgorithm="CRC32")
        a, b = pattern(5 * MIB, 7), pattern(1000, 8)
        # Out of order, and part 1 uploaded twice (the second replaces it).
        p2 = s3.upload_part(Bucket=self.bucket, Key="mp/low", UploadId=up["UploadId"], PartNumber=2,
                            Body=b, ChecksumAlgorithm="CRC32")
        s3.upload_part(Bucket=self.bucket, Key="mp/low", UploadId=up["UploadId"], PartNumber=1,
                       Body=pattern(5 * MIB, 9), ChecksumAlgorithm="CRC32")
        p1 = s3.upload_part(Bucket=self.bucket, Key="mp/low", UploadId=up["UploadId"], PartNumber=1,
                            Body=a, ChecksumAlgorithm="CRC32")
        listed = s3.list_parts(Bucket=self.bucket, Key="mp/low", UploadId=up["UploadId"])
        eq([p["PartNumber"] for p in listed["Parts"]], [1, 2], "ListParts")
        eq(listed["Parts"][0]["ETag"], p1["ETag"], "replaced part")
        uploads = s3.list_multipart_uploads(Bucket=self.bucket, Prefix="mp/low")
        eq([u["UploadId"] for u in uploads.get("Uploads", [])], [up["UploadId"]], "uploads")
        s3.complete_multipart_upload(
            Bucket=self.bucket, Key="mp/low", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": p1["ETag"], "ChecksumCRC32": p1["ChecksumCRC32"]},
                {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumCRC32": p2["ChecksumCRC32"]},
            ]},
        )
        eq(s3.get_object(Bucket=self.bucket, Key="mp/low")["Body"].read(), a + b, "completed")
        # Abort, then the upload is gone.
        up2 = s3.create_multipart_upload(Bucket=self.bucket, Key="mp/aborted")
        s3.abort_multipart_upload(Bucket=self.bucket, Key="mp/aborted", UploadId=up2["UploadId"])
        eq(error_code(s3.list_parts, Bucket=self.bucket, Key="mp/aborted", UploadId=up2["UploadId"]),
           ("NoSuchUpload", 404), "aborted upload")

    # -- copy, delete -------------------------------------------------------

    def case_copy_object(self):
        s3 = self.s3
        body = pattern(50_000, 10)
        s3.put_object(Bucket=self.bucket, Key="copy/src", Body=body, ContentType="text/a",
                      Metadata={"m": "1"})
        s3.copy_object(Bucket=self.bucket, Key="copy/dst", CopySource={"Bucket": self.bucket,
                       "Key": "copy/src"})
        got = s3.get_object(Bucket=self.bucket, Key="copy/dst")
        eq(got["Body"].read(), body, "copied bytes")
        eq((got["ContentType"], got["Metadata"]), ("text/a", {"m": "1"}), "COPY directive")
        s3.copy_object(Bucket=self.bucket, Key="copy/dst2", CopySource=f"{self.bucket}/copy/src",
                       MetadataDirective="REPLACE", ContentType="text/b", Metadata={"n": "2"})
        head = s3.head_object(Bucket=self.bucket, Key="copy/dst2")
        eq((head["ContentType"], head["Metadata"]), ("text/b", {"n": "2"}), "REPLACE directive")
        # Unicode source key (URL-encoded by boto3 in x-amz-copy-source).
        s3.put_object(Bucket=self.bucket, Key="copy/ünï code+1", Body=b"u")
        s3.copy_object(Bucket=self.bucket, Key="copy/u2",
                       CopySource={"Bucket": self.bucket, "Key": "copy/ünï code+1"})
        eq(s3.get_object(Bucket=self.bucket, Key="copy/u2")["Body"].read(), b"u", "unicode source")
        eq(error_code(s3.copy_object, Bucket=self.bucket, Key="copy/x",
                      CopySource={"Bucket": self.bucket, "Key": "copy/missing"}),
           ("NoSuchKey", 404), "missing source")
        eq(error_code(s3.copy_object, Bucket=self.bucket, Key="copy/x",
                      CopySource={"Bucket": self.bucket, "Key": "copy/src"},
                      CopySourceIfMatch='"0123"'),
           ("PreconditionFailed", 412), "copy-source-if-match")

    def case_delete_objects(self):
        s3 = self.s3
        keys = [f"del/{i}" for i in range(30)] + ["del/ünï", "del/a&b<c>"]
        for k in keys:
            s3.put_object(Bucket=self.bucket, Key=k, Body=b"x")
        out = s3.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": k} for k in keys] + [{"Key": "del/missing"}]},
        )
        eq(sorted(d["Key"] for d in out["Deleted"]), sorted(keys + ["del/missing"]), "Deleted")
        eq(out.get("Errors", []), [], "Errors")
        left = s3.list_objects_v2(Bucket=self.bucket, Prefix="del/")
        eq(left["KeyCount"], 0, "left after delete")
        quiet = s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": "del/q"}], "Quiet": True})
        eq(quiet.get("Deleted", []), [], "quiet")
        s3.delete_object(Bucket=self.bucket, Key="del/never-there")  # 204, as S3

    # -- versioning ---------------------------------------------------------

    def case_versioning(self):
        s3 = self.s3
        b = self.bucket + "-v"
        s3.create_bucket(Bucket=b)
        eq(s3.get_bucket_versioning(Bucket=b).get("Status"), None, "never set")
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        eq(s3.get_bucket_versioning(Bucket=b)["Status"], "Enabled", "Enabled")
        v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
        v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
        ensure(v1 and v2 and v1 != v2, f"version ids {v1} {v2}")
        dm = s3.delete_object(Bucket=b, Key="k")
        eq(dm.get("DeleteMarker"), True, "delete marker")
        eq(error_code(s3.get_object, Bucket=b, Key="k"), ("NoSuchKey", 404), "current is a marker")
        # As S3: the 404 says it is a marker; the marker's own version id is 405.
        for fn, code in ((s3.get_object, "NoSuchKey"), (s3.head_object, "404")):
            try:
                fn(Bucket=b, Key="k")
                raise AssertionError("read of a deleted key succeeded")
            except ClientError as e:
                h = e.response["ResponseMetadata"]["HTTPHeaders"]
                eq((e.response["Error"]["Code"], h.get("x-amz-delete-marker"), h.get("x-amz-version-id")),
                   (code, "true", dm["VersionId"]), f"{fn.__name__} of a deleted key")
        for fn, code in ((s3.get_object, "MethodNotAllowed"), (s3.head_object, "405")):
            try:
                fn(Bucket=b, Key="k", VersionId=dm["VersionId"])
                raise AssertionError("read of a delete marker version succeeded")
            except ClientError as e:
                h = e.response["ResponseMetadata"]["HTTPHeaders"]
                eq((e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                    h.get("x-amz-delete-marker")), (code, 405, "true"), f"{fn.__name__} of the marker")
                ensure("last-modified" in h, "Last-Modified on 405")
        # A plain miss carries none of it.
        try:
            s3.head_object(Bucket=b, Key="never")
        except ClientError as e:
            ensure("x-amz-delete-marker" not in e.response["ResponseMetadata"]["HTTPHeaders"], "plain miss")
        eq(s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read(), b"one", "v1")
        eq(s3.get_object(Bucket=b, Key="k", VersionId=v2)["Body"].read(), b"two", "v2")
        vers = s3.list_object_versions(Bucket=b)
        eq([(v["VersionId"], v["IsLatest"]) for v in vers["Versions"]], [(v2, False), (v1, False)],
           "Versions")
        eq([(m["VersionId"], m["IsLatest"]) for m in vers["DeleteMarkers"]],
           [(dm["VersionId"], True)], "DeleteMarkers")
        pages = list(s3.get_paginator("list_object_versions").paginate(
            Bucket=b, PaginationConfig={"PageSize": 1}))
        n = sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) for p in pages)
        eq(n, 3, "paginated versions")
        # Removing the marker brings v2 back.
        s3.delete_object(Bucket=b, Key="k", VersionId=dm["VersionId"])
        eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"two", "after marker removal")
        for v in (v1, v2):
            s3.delete_object(Bucket=b, Key="k", VersionId=v)
        eq(s3.list_object_versions(Bucket=b).get("Versions", []), [], "all versions deleted")
        s3.delete_bucket(Bucket=b)

    # -- presigned ----------------------------------------------------------

    def case_presigned(self):
        """boto3 presigns with SigV2 unless told otherwise; the gateway only
        speaks SigV4 (TESTING.md: refuse SigV2), so the URL a default client
        makes is refused with a message naming the fix, and a client made
        with signature_version='s3v4' works."""
        body = pattern(20_000, 11)
        v2_url = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "pre/x"}, ExpiresIn=300
        )
        ensure("AWSAccessKeyId=" in v2_url, f"boto3 default presign is no longer SigV2: {v2_url}")
        try:
            urllib.request.urlopen(v2_url, timeout=10)
            raise AssertionError("SigV2 presigned URL was accepted")
        except urllib.error.HTTPError as e:
            eq(e.code, 400, "SigV2 status")
            text = e.read().decode()
            ensure("<Code>InvalidRequest</Code>" in text, text)
            ensure("signature_version=&apos;s3v4&apos;" in text or "signature_version='s3v4'" in text,
                   f"no hint in {text}")
        s3 = self.s3v4
        put_url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": "pre/ünï key", "ContentType": "text/p"},
            ExpiresIn=300,
        )
        ensure("X-Amz-Signature=" in put_url, put_url)
        req = urllib.request.Request(put_url, data=body, method="PUT",
                                     headers={"Content-Type": "text/p"})
        with urllib.request.urlopen(req, timeout=10) as r:
            eq(r.status, 200, "presigned PUT status")
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket,
                                            "Key": "pre/ünï key"}, ExpiresIn=300)
        with urllib.request.urlopen(get_url, timeout=10) as r:
            eq(r.read(), body, "presigned GET body")
            eq(r.headers["Content-Type"], "text/p", "presigned content type")
        # response-* overrides through a presigned GET.
        over = s3.generate_presigned_url("get_object", Params={
            "Bucket": self.bucket, "Key": "pre/ünï key", "ResponseContentType": "text/o",
            "ResponseContentDisposition": "attachment"}, ExpiresIn=300)
        with urllib.request.urlopen(over, timeout=10) as r:
            eq((r.headers["Content-Type"], r.headers["Content-Disposition"]),
               ("text/o", "attachment"), "overrides")
        # A tampered signature is refused.
        bad = get_url[:-1] + ("0" if get_url[-1] != "0" else "1")
        try:
            urllib.request.urlopen(bad, timeout=10)
            raise AssertionError("tampered presigned URL was accepted")
        except urllib.error.HTTPError as e:
            eq(e.code, 403, "tampered status")
            ensure(b"SignatureDoesNotMatch" in e.read(), "tampered code")

    # -- conditionals and errors ------------------------------------------

    def case_conditional_requests(self):
        s3 = self.s3
        etag = s3.put_object(Bucket=self.bucket, Key="cond/k", Body=b"v1", IfNoneMatch="*")["ETag"]
        eq(error_code(s3.put_object, Bucket=self.bucket, Key="cond/k", Body=b"v2", IfNoneMatch="*"),
           ("PreconditionFailed", 412), "IfNoneMatch * on an existing key")
        eq(s3.get_object(Bucket=self.bucket, Key="cond/k")["Body"].read(), b"v1", "not overwritten")
        s3.put_object(Bucket=self.bucket, Key="cond/k", Body=b"v2", IfMatch=etag)
        eq(error_code(s3.put_object, Bucket=self.bucket, Key="cond/k", Body=b"v3", IfMatch=etag),
           ("PreconditionFailed", 412), "IfMatch stale ETag")
        eq(error_code(s3.get_object, Bucket=self.bucket, Key="cond/k", IfMatch='"nope"'),
           ("PreconditionFailed", 412), "get IfMatch")
        cur = s3.head_object(Bucket=self.bucket, Key="cond/k")["ETag"]
        eq(error_code(s3.get_object, Bucket=self.bucket, Key="cond/k", IfNoneMatch=cur),
           ("304", 304), "get IfNoneMatch")
        # Conditional complete of a multipart upload.
        up = s3.create_multipart_upload(Bucket=self.bucket, Key="cond/k")
        p = s3.upload_part(Bucket=self.bucket, Key="cond/k", UploadId=up["UploadId"], PartNumber=1,
                           Body=b"mp")
        eq(error_code(s3.complete_multipart_upload, Bucket=self.bucket, Key="cond/k",
                      UploadId=up["UploadId"], IfNoneMatch="*",
                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}),
           ("PreconditionFailed", 412), "complete IfNoneMatch *")
        s3.abort_multipart_upload(Bucket=self.bucket, Key="cond/k", UploadId=up["UploadId"])

    def case_error_codes(self):
        s3 = self.s3
        eq(error_code(s3.get_object, Bucket=self.bucket, Key="nope"), ("NoSuchKey", 404), "NoSuchKey")
        eq(error_code(s3.head_object, Bucket=self.bucket, Key="nope"), ("404", 404), "HEAD 404")
        eq(error_code(s3.get_object, Bucket="no-such-bucket-x1", Key="k"), ("NoSuchBucket", 404),
           "NoSuchBucket")
        eq(error_code(s3.list_objects_v2, Bucket="no-such-bucket-x1"), ("NoSuchBucket", 404), "list")
        eq(error_code(s3.put_object, Bucket="no-such-bucket-x1", Key="k", Body=b"x"),
           ("NoSuchBucket", 404), "put NoSuchBucket")
        b = self.bucket + "-ne"
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"x")
        eq(error_code(s3.delete_bucket, Bucket=b), ("BucketNotEmpty", 409), "BucketNotEmpty")
        s3.delete_object(Bucket=b, Key="k")
        s3.delete_bucket(Bucket=b)
        eq(error_code(s3.put_object, Bucket=self.bucket, Key="k" * 1025, Body=b"x"),
           ("KeyTooLongError", 400), "KeyTooLongError")
        eq(error_code(s3.put_object_tagging, Bucket=self.bucket, Key="cond/k",
                      Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
           ("NotImplemented", 501), "tagging")
        bad = boto3.client(
            "s3", endpoint_url=self.s3.meta.endpoint_url, region_name="us-east-1",
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        eq(error_code(bad.list_buckets), ("SignatureDoesNotMatch", 403), "wrong secret")

    def case_client_defaults(self):
        """What a new user writes: no Config at all, and a region from their
        shell that is not us-east-1 (tessera serve without --region takes any)."""
        for region in ("eu-central-1", "us-west-2"):
            s3 = boto3.client(
                "s3",
                endpoint_url=self.s3.meta.endpoint_url,
                region_name=region,
                aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            )
            ensure(self.bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]], "list_buckets")
            s3.put_object(Bucket=self.bucket, Key=f"defaults/{region}", Body=region.encode())
            got = s3.get_object(Bucket=self.bucket, Key=f"defaults/{region}")["Body"].read()
            eq(got, region.encode(), f"{region} round trip")
            res = boto3.resource(
                "s3",
                endpoint_url=self.s3.meta.endpoint_url,
                region_name=region,
                aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            )
            keys = [o.key for o in res.Bucket(self.bucket).objects.filter(Prefix="defaults/")]
            ensure(f"defaults/{region}" in keys, f"resource listing {keys}")

    def case_refused_guarantees(self):
        """Encryption, Object Lock and tagging are not implemented: asking for
        them is 501 NotImplemented and nothing is stored (never a silent drop)."""
        s3 = self.s3
        for kw in (
            {"ServerSideEncryption": "AES256"},
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k"},
            {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32},
            {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"},
            {"ObjectLockLegalHoldStatus": "ON"},
            {"Tagging": "team=a"},
        ):
            eq(error_code(s3.put_object, Bucket=self.bucket, Key="refused/k", Body=b"x", **kw),
               ("NotImplemented", 501), f"put_object {sorted(kw)}")
            eq(error_code(s3.create_multipart_upload, Bucket=self.bucket, Key="refused/k", **kw),
               ("NotImplemented", 501), f"create_multipart_upload {sorted(kw)}")
        eq(error_code(s3.head_object, Bucket=self.bucket, Key="refused/k"), ("404", 404), "stored?")
        eq(s3.list_multipart_uploads(Bucket=self.bucket, Prefix="refused/").get("Uploads", []), [],
           "uploads")
        s3.put_object(Bucket=self.bucket, Key="refused/src", Body=b"s")
        eq(error_code(s3.copy_object, Bucket=self.bucket, Key="refused/c", ServerSideEncryption="AES256",
                      CopySource={"Bucket": self.bucket, "Key": "refused/src"}),
           ("NotImplemented", 501), "copy_object with encryption")
        # ACL and storage class promise nothing we do not keep: accepted.
        s3.put_object(Bucket=self.bucket, Key="refused/acl", Body=b"a", ACL="private",
                      StorageClass="STANDARD")
        eq(s3.get_object(Bucket=self.bucket, Key="refused/acl")["Body"].read(), b"a", "acl put")

    def cleanup(self):
        for p in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in p.get("Versions", []) + p.get("DeleteMarkers", [])]
            if items:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": items, "Quiet": True})
        for u in self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"])
        self.s3.delete_bucket(Bucket=self.bucket)
        eq(error_code(self.s3.head_bucket, Bucket=self.bucket), ("404", 404), "bucket removed")


class SkipCase(Exception):
    pass


CASES = [
    "buckets",
    "put_get_head_metadata",
    "checksum_default_crc32",
    "checksum_when_required",
    "checksum_tls_trailer",
    "ranges",
    "list_v2_paginate",
    "upload_download_multipart",
    "multipart_low_level",
    "copy_object",
    "delete_objects",
    "versioning",
    "presigned",
    "conditional_requests",
    "error_codes",
    "client_defaults",
    "refused_guarantees",
    "cleanup",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--tls-endpoint")
    parser.add_argument("--ca")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    print("VERSIONS " + json.dumps({"boto3": boto3.__version__, "botocore": botocore.__version__}),
          flush=True)
    suite = Suite(args)
    for name in CASES:
        if args.only and name not in args.only and name != "buckets":
            continue
        started = time.monotonic()
        result = {"name": name, "ok": True}
        try:
            getattr(suite, "cleanup" if name == "cleanup" else "case_" + name)()
        except SkipCase as e:
            result = {"name": name, "ok": True, "skipped": str(e)}
        except Exception:  # noqa: BLE001 - every failure is reported, not raised
            result = {"name": name, "ok": False, "error": traceback.format_exc()}
        result["ms"] = round((time.monotonic() - started) * 1000)
        print("CASE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
