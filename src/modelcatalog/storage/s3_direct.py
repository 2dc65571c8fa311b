"""Clients straight to the bucket: S3 presigned URLs and short-lived STS credentials, each
confined to one prefix of the store, so that model bytes never pass through the catalog.

A presigned URL names one object and one method (S3 checks its signature and its expiry). The
credentials come from STS AssumeRole with a session policy (:func:`access_policy`), as Unity
Catalog hands them out on AWS: whatever the role may do, the session may only read (GetObject,
ListBucket under the prefix) or, for writing, also put objects and run multipart uploads
(PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload) under that one
prefix. An S3-compatible store that ignores session policies hands out its role's full rights;
README says which stores enforce them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from modelcatalog.storage.base import PresignedRequest, StorageError, TemporaryCredentials
from modelcatalog.storage.keys import confine, confine_prefix

STS_MIN_SECONDS = 900
"""The shortest session STS grants (AssumeRole's DurationSeconds lower bound)."""

MAX_SINGLE_COPY = 5 * 1024**3
"""The largest object S3 copies in one CopyObject (and accepts in one PutObject)."""

READ_ACTIONS = ("s3:GetObject",)
WRITE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


def access_policy(bucket: str, object_prefix: str, *, write: bool) -> dict[str, Any]:
    """The session policy of credentials for the objects under ``object_prefix`` (a bucket key
    prefix ending in ``/``): read them, or read and write them, and list only them."""
    if not object_prefix.endswith("/"):
        raise ValueError(f"object prefix {object_prefix!r} must end with '/'")
    actions = WRITE_ACTIONS if write else READ_ACTIONS
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ObjectsOfOneModelVersion",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": [f"arn:aws:s3:::{bucket}/{object_prefix}*"],
            },
            {
                "Sid": "ListOneModelVersion",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [object_prefix, f"{object_prefix}*"]}},
            },
        ],
    }


class S3DirectAccess:
    """Hands clients presigned URLs and scoped credentials for keys of one S3 store.

    ``root`` is the store's key prefix (``""`` or ending in ``/``); every key given here is a
    store key, confined before it is signed. Credentials need ``role_arn``: without it the store
    offers presigned URLs only (:attr:`issues_credentials` is False)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        root: str,
        *,
        role_arn: str | None = None,
        sts_endpoint_url: str | None = None,
        sts_client: Any = None,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self._root = root
        self.role_arn = role_arn or None
        self._sts = sts_client
        self._sts_endpoint_url = sts_endpoint_url

    @property
    def issues_credentials(self) -> bool:
        return self.role_arn is not None

    def presign(self, method: str, key: str, seconds: int) -> PresignedRequest:
        """A presigned GET or PUT of one object, valid ``seconds`` from now (S3 refuses it
        afterwards). A PUT needs no extra header; S3's single-request limit of 5 GiB applies."""
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        try:
            url = self._client.generate_presigned_url(
                operation,
                Params={"Bucket": self.bucket, "Key": self._root + confine(key)},
                ExpiresIn=seconds,
                HttpMethod=method,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot presign {method} {key!r}: {error}") from error
        return PresignedRequest(url=url, headers={})

    def credentials(
        self, prefix: str, *, write: bool, seconds: int, session_name: str
    ) -> TemporaryCredentials:
        """STS credentials limited by :func:`access_policy` to the store's ``prefix``."""
        if self.role_arn is None:
            raise StorageError("no role is configured to issue temporary credentials from")
        object_prefix = self._root + confine_prefix(prefix)
        policy = access_policy(self.bucket, object_prefix, write=write)
        try:
            response = self._sts_client().assume_role(
                RoleArn=self.role_arn,
                RoleSessionName=session_name,
                Policy=json.dumps(policy, separators=(",", ":")),
                DurationSeconds=max(seconds, STS_MIN_SECONDS),
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot obtain temporary credentials: {error}") from error
        found = response["Credentials"]
        return TemporaryCredentials(
            access_key_id=found["AccessKeyId"],
            secret_access_key=found["SecretAccessKey"],
            session_token=found["SessionToken"],
            expires_at_ms=int(found["Expiration"].timestamp() * 1000),
        )

    def seal(self, src_prefix: str, dst_prefix: str) -> int:
        """Copy every object under ``src_prefix`` to ``dst_prefix``, server-side, and have S3
        compute each copy's sha256 (returned by HeadObject as a full-object ChecksumSHA256).

        The copies drop the uploaders' metadata: nothing a client set survives into the sealed
        prefix. An object over :data:`MAX_SINGLE_COPY` bytes can only be copied in parts, whose
        checksum is per part; it is copied without one, and its digest must be read. Returns
        the number of objects copied."""
        source = self._root + confine_prefix(src_prefix)
        target = self._root + confine_prefix(dst_prefix)
        count = 0
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=source
            ):
                for item in page.get("Contents", []):
                    destination = target + item["Key"][len(source) :]
                    copy_source = {"Bucket": self.bucket, "Key": item["Key"]}
                    if item["Size"] <= MAX_SINGLE_COPY:
                        self._client.copy_object(
                            Bucket=self.bucket,
                            Key=destination,
                            CopySource=copy_source,
                            MetadataDirective="REPLACE",
                            ChecksumAlgorithm="SHA256",
                        )
                    else:
                        self._client.copy(
                            copy_source,
                            self.bucket,
                            destination,
                            ExtraArgs={"MetadataDirective": "REPLACE"},
                        )
                    count += 1
        except (ClientError, BotoCoreError, Boto3Error) as error:
            raise StorageError(f"cannot copy {src_prefix!r} to {dst_prefix!r}: {error}") from error
        return count

    def sweep_multipart_uploads(self, older_than_seconds: float) -> int:
        """Abort the multipart uploads under the store's root started more than
        ``older_than_seconds`` ago (a client that died mid-upload leaves its parts stored and
        billed, never shown as an object); return how many were aborted."""
        cutoff = time.time() - older_than_seconds
        aborted = 0
        try:
            for page in self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self._root
            ):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() > cutoff:
                        continue
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot sweep multipart uploads: {error}") from error
        return aborted

    def _sts_client(self) -> Any:
        if self._sts is None:
            self._sts = boto3.client(
                "sts",
                endpoint_url=self._sts_endpoint_url,
                config=Config(retries={"mode": "standard"}),
            )
        return self._sts
