"""What the S3 store hands clients so that they reach the bucket directly: session policies
confined to one prefix, STS sessions carrying them, presigned URLs that expire, sealed copies
whose sha256 S3 computes, and the sweep of abandoned multipart uploads.

moto's server answers STS and S3 but enforces neither session policies nor presigned URLs'
expiry, so the policy documents are checked as documents here (a store that enforces them, AWS
S3 or MinIO, refuses everything outside them), and presigned URLs' expiry against s3rver, which
checks it (it does not check SigV4 signatures themselves, so a URL altered to name another key
is not tested against a store here).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from modelcatalog.storage import version_prefix
from modelcatalog.storage.base import StorageError
from modelcatalog.storage.s3 import S3ArtifactStore, default_client
from modelcatalog.storage.s3_direct import access_policy
from support.servers import S3RVER_KEY, run_s3rver

MODEL = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
MIB = 1024 * 1024
ROLE = "arn:aws:iam::123456789012:role/modelcatalog-clients"


@pytest.fixture
def direct_store(s3_endpoint: str, s3_bucket: str) -> S3ArtifactStore:
    return S3ArtifactStore(s3_bucket, "artifacts", endpoint_url=s3_endpoint, role_arn=ROLE)


def _allows(policy: dict[str, Any], action: str, resource: str, prefix: str | None = None) -> bool:
    """Whether one of the policy's Allow statements grants `action` on `resource` (with the
    ListBucket `s3:prefix` condition), evaluated as IAM does for these simple forms."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or action not in statement["Action"]:
            continue
        for pattern in statement["Resource"]:
            matches = (
                resource.startswith(pattern[:-1])
                if pattern.endswith("*")
                else (resource == pattern)
            )
            if not matches:
                continue
            condition = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
            if condition is None:
                return True
            if prefix is not None and any(
                prefix.startswith(c[:-1]) if c.endswith("*") else prefix == c for c in condition
            ):
                return True
    return False


def test_a_write_policy_reaches_its_prefix_and_nothing_else() -> None:
    mine = f"root/_uploads/{MODEL}/1/"
    policy = access_policy("bucket", mine, write=True)
    for action in ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"):
        assert _allows(policy, action, f"arn:aws:s3:::bucket/{mine}weights.bin")
    for elsewhere in (
        f"root/_uploads/{MODEL}/10/x",  # version 10 starts with "1" but is another folder
        f"root/_uploads/{MODEL}/2/x",
        f"root/{MODEL}/1/x",  # the sealed folder of the same version
        f"root/_uploads/{OTHER}/1/x",
        "other-bucket-key",
    ):
        assert not _allows(policy, "s3:PutObject", f"arn:aws:s3:::bucket/{elsewhere}")
        assert not _allows(policy, "s3:GetObject", f"arn:aws:s3:::bucket/{elsewhere}")
    assert not _allows(policy, "s3:PutObject", f"arn:aws:s3:::other/{mine}x")
    assert not _allows(policy, "s3:DeleteObject", f"arn:aws:s3:::bucket/{mine}x")
    assert _allows(policy, "s3:ListBucket", "arn:aws:s3:::bucket", prefix=mine + "artifacts/")
    assert not _allows(policy, "s3:ListBucket", "arn:aws:s3:::bucket", prefix="root/")
    assert not _allows(policy, "s3:ListBucket", "arn:aws:s3:::bucket", prefix=f"root/{MODEL}/")


def test_a_read_policy_only_reads() -> None:
    mine = f"root/{MODEL}/1/"
    policy = access_policy("bucket", mine, write=False)
    assert _allows(policy, "s3:GetObject", f"arn:aws:s3:::bucket/{mine}MLmodel")
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"):
        assert not _allows(policy, action, f"arn:aws:s3:::bucket/{mine}MLmodel")
    assert not _allows(policy, "s3:GetObject", f"arn:aws:s3:::bucket/root/{MODEL}/2/MLmodel")
    assert len(json.dumps(policy)) < 2048  # STS's limit on a packed session policy


def test_a_prefix_must_be_a_folder() -> None:
    with pytest.raises(ValueError, match="must end with '/'"):
        access_policy("bucket", f"root/{MODEL}/1", write=False)


def test_credentials_are_an_sts_session_with_the_policy_of_their_prefix(
    direct_store: S3ArtifactStore, s3_endpoint: str, s3_bucket: str
) -> None:
    sent: list[dict[str, Any]] = []
    direct = direct_store.direct
    direct._sts_client().meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params))
    )
    before = time.time()
    found = direct.credentials(
        version_prefix(MODEL, 1), write=True, seconds=60, session_name="modelcatalog-alice"
    )
    assert found.session_token and found.access_key_id != "testing"
    # STS never grants less than 15 minutes; the session asks for no more than that.
    assert before + 890 <= found.expires_at_ms / 1000 <= time.time() + 910
    (params,) = sent
    assert params["RoleArn"] == ROLE and params["DurationSeconds"] == 900
    assert json.loads(params["Policy"]) == access_policy(
        s3_bucket, f"artifacts/{version_prefix(MODEL, 1)}", write=True
    )
    # The session signs S3 requests the store accepts.
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=found.access_key_id,
        aws_secret_access_key=found.secret_access_key,
        aws_session_token=found.session_token,
    )
    client.put_object(Bucket=s3_bucket, Key=f"artifacts/{MODEL}/1/a", Body=b"a")


def test_no_role_no_credentials(s3_endpoint: str, s3_bucket: str) -> None:
    store = S3ArtifactStore(s3_bucket, "artifacts", endpoint_url=s3_endpoint)
    assert store.direct.issues_credentials is False
    with pytest.raises(StorageError, match="no role"):
        store.direct.credentials(
            version_prefix(MODEL, 1), write=False, seconds=900, session_name="x"
        )


def test_presigned_urls_sign_their_method_key_and_expiry(
    direct_store: S3ArtifactStore, s3_bucket: str
) -> None:
    key = version_prefix(MODEL, 1) + "a b#c"
    put = direct_store.direct.presign("PUT", key, 120)
    assert put.headers == {}
    response = httpx.put(put.url, content=b"payload", timeout=30)
    assert response.status_code == 200, response.text
    assert direct_store.read_bytes(key) == b"payload"
    url = urlsplit(put.url)
    assert url.path == f"/{s3_bucket}/artifacts/{MODEL}/1/a%20b%23c"
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["120"]
    get = direct_store.direct.presign("GET", key, 60)
    assert parse_qs(urlsplit(get.url).query)["X-Amz-Expires"] == ["60"]
    assert httpx.get(get.url, timeout=30).content == b"payload"
    with pytest.raises(ValueError):
        direct_store.direct.presign("PUT", "../escape", 60)


def test_sealing_copies_and_s3_computes_each_sha256_even_of_a_multipart_upload(
    direct_store: S3ArtifactStore, s3_bucket: str, s3_endpoint: str
) -> None:
    uploads = f"_uploads/{version_prefix(MODEL, 1)}"
    client = default_client(s3_endpoint)
    big = bytes(range(256)) * (6 * MIB // 256)
    # A client's multipart upload: its S3 checksum (if any) would be per part.
    started = client.create_multipart_upload(Bucket=s3_bucket, Key=f"artifacts/{uploads}big")
    parts = []
    for number, chunk in enumerate((big[: 5 * MIB], big[5 * MIB :]), start=1):
        etag = client.upload_part(
            Bucket=s3_bucket,
            Key=f"artifacts/{uploads}big",
            UploadId=started["UploadId"],
            PartNumber=number,
            Body=chunk,
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    client.complete_multipart_upload(
        Bucket=s3_bucket,
        Key=f"artifacts/{uploads}big",
        UploadId=started["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    # A client that set the catalog's own digest metadata: it must not survive sealing.
    client.put_object(
        Bucket=s3_bucket,
        Key=f"artifacts/{uploads}dir/small",
        Body=b"small",
        Metadata={"modelcatalog-sha256": "0" * 64},
    )
    assert direct_store.direct.seal(uploads, version_prefix(MODEL, 1)) == 2
    sealed = version_prefix(MODEL, 1)
    assert direct_store.recorded_sha256(sealed + "big") == hashlib.sha256(big).hexdigest()
    assert (
        direct_store.recorded_sha256(sealed + "dir/small") == hashlib.sha256(b"small").hexdigest()
    )
    head = client.head_object(
        Bucket=s3_bucket, Key=f"artifacts/{sealed}big", ChecksumMode="ENABLED"
    )
    assert base64.b64decode(head["ChecksumSHA256"]) == hashlib.sha256(big).digest()
    assert "modelcatalog-sha256" not in head["Metadata"]


def test_sweep_aborts_multipart_uploads_older_than_the_limit_only(
    direct_store: S3ArtifactStore, s3_bucket: str, s3_endpoint: str
) -> None:
    client = default_client(s3_endpoint)
    client.create_multipart_upload(Bucket=s3_bucket, Key=f"artifacts/_uploads/{MODEL}/1/big")
    client.create_multipart_upload(Bucket=s3_bucket, Key="outside-the-store/big")
    # Ages as the store reports them (moto dates every upload to one fixed day in the past).
    (mine,) = client.list_multipart_uploads(Bucket=s3_bucket, Prefix="artifacts/")["Uploads"]
    age = time.time() - mine["Initiated"].timestamp()
    assert direct_store.sweep_temp(age + 3600) == 0  # younger than the limit: may be running
    assert direct_store.sweep_temp(age - 3600) == 1
    left = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [u["Key"] for u in left] == ["outside-the-store/big"]


@pytest.fixture(scope="module")
def checking_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[S3ArtifactStore]:
    """A store in s3rver, which refuses expired presigned URLs."""
    with run_s3rver(tmp_path_factory.mktemp("s3rver")) as endpoint:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3RVER_KEY,
            aws_secret_access_key=S3RVER_KEY,
            config=default_client(endpoint).meta.config,
        )
        client.create_bucket(Bucket="models")
        yield S3ArtifactStore("models", "root", client=client)


def test_the_store_refuses_a_presigned_url_past_its_expiry(
    checking_store: S3ArtifactStore,
) -> None:
    key = version_prefix(MODEL, 1) + "MLmodel"
    fresh = checking_store.direct.presign("PUT", key, 60)
    assert httpx.put(fresh.url, content=b"model", timeout=30).status_code == 200
    assert httpx.get(checking_store.direct.presign("GET", key, 60).url, timeout=30).content == (
        b"model"
    )
    short = checking_store.direct.presign("GET", key, 1)
    time.sleep(2.1)  # the URL's one second is over (S3 dates presigned URLs to the second)
    refused = httpx.get(short.url, timeout=30)
    assert refused.status_code == 403
    assert "<Code>AccessDenied</Code>" in refused.text and "Request has expired" in refused.text
