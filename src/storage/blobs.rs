//! Evidence files, content-addressed by SHA-256. [`BlobStore`] is the interface intake, download
//! and the orphan sweeper use; [`LocalBlobs`] keeps files on local disk under
//! `root/ab/cd/<sha256>` (several instances share it through one volume). Uploads are always
//! staged on local disk first, whatever the backend.
//!
//! Uploads are written to `root/tmp/` first and only renamed into place once complete and
//! fsync'd, so a file under its digest name is always whole. Identical bytes are stored once.
//! Paths come from the digest only, never from anything a client sent.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use std::future::Future;
use std::pin::Pin;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

/// A SHA-256 digest in lower-case hex: the only thing that names a blob.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobDigest(String);

impl BlobDigest {
    /// Accepts exactly 64 lower-case hex characters.
    pub fn parse(s: &str) -> Option<BlobDigest> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| BlobDigest(s.to_owned()))
    }

    pub fn from_hasher(h: Sha256) -> BlobDigest {
        BlobDigest(crate::staff::hex(&h.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer of the sweeper's "is this blob still referenced?" question.
pub type Referenced<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Where evidence lives. Object-safe, held as `Arc<dyn BlobStore>`.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// A local temporary file for an upload in progress; deleted when dropped unless committed.
    fn temp_file(&self) -> std::io::Result<tempfile::NamedTempFile>;
    /// Held by intake from its first [`BlobStore::commit`] until its database commit, so the
    /// sweeper never removes a blob a new report is about to reference.
    async fn intake_guard(&self) -> tokio::sync::RwLockReadGuard<'_, ()>;
    /// Makes a complete, fsync'd temporary file durable under its digest (or drops it if those
    /// bytes are already stored).
    async fn commit(&self, temp: tempfile::NamedTempFile, d: &BlobDigest) -> std::io::Result<()>;
    async fn open_blob(&self, d: &BlobDigest)
        -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>>;
    /// Re-hashes a stored blob: served evidence must still be what was uploaded.
    async fn verify(&self, d: &BlobDigest) -> std::io::Result<bool>;
    /// Removes files older than `age` that interrupted uploads left behind; returns how many.
    async fn sweep<'a>(
        &self,
        age: Duration,
        referenced: &(dyn Fn(BlobDigest) -> Referenced<'a> + Send + Sync),
    ) -> std::io::Result<usize>;
}

/// Evidence on local disk (or a volume shared by several instances).
pub struct LocalBlobs {
    root: PathBuf,
    /// Intake holds a read guard from committing its files until its transaction commits; the
    /// sweeper takes the write guard to delete. A blob being re-used by a new report can then
    /// never be swept between the "is it referenced?" check and the new reference.
    guard: tokio::sync::RwLock<()>,
}

impl LocalBlobs {
    pub fn open(root: &Path) -> std::io::Result<LocalBlobs> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(LocalBlobs {
            root: root.to_owned(),
            guard: tokio::sync::RwLock::new(()),
        })
    }

    async fn guard_read(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.guard.read().await
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn new_temp(&self) -> std::io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(self.root.join("tmp"))
    }

    pub fn path_of(&self, d: &BlobDigest) -> PathBuf {
        let s = d.as_str();
        self.root.join(&s[0..2]).join(&s[2..4]).join(s)
    }

    /// Moves a complete, fsync'd temporary file under its digest name (or drops it if those
    /// bytes are already stored) and makes the rename durable.
    async fn commit_local(
        &self,
        temp: tempfile::NamedTempFile,
        d: &BlobDigest,
    ) -> std::io::Result<()> {
        let dest = self.path_of(d);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dest.parent().unwrap_or(Path::new("."));
            let l1 = dir.parent().unwrap_or(Path::new("."));
            let (new_l1, new_l2) = (!l1.exists(), !dir.exists());
            std::fs::create_dir_all(dir)?;
            // New folders must themselves be durable in their parents, or a power cut could
            // lose a file we already acknowledged.
            if new_l1 {
                std::fs::File::open(&root)?.sync_all()?;
            }
            if new_l2 {
                std::fs::File::open(l1)?.sync_all()?;
            }
            // The sweeper judges age by mtime: a blob about to be referenced must look fresh.
            let touch = |p: &Path| -> std::io::Result<()> {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)?
                    .set_modified(SystemTime::now())
            };
            if dest.exists() {
                // Same digest, same bytes: keep the stored copy, drop the temp file.
                return touch(&dest);
            }
            match temp.persist_noclobber(&dest) {
                Ok(_) => {}
                // A concurrent upload of the same bytes got there first: same content, fine.
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return touch(&dest)
                }
                Err(e) => return Err(e.error),
            }
            touch(&dest)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn open_file(&self, d: &BlobDigest) -> std::io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path_of(d)).await
    }

    async fn verify_local(&self, d: &BlobDigest) -> std::io::Result<bool> {
        let mut f = self.open_file(d).await?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(BlobDigest::from_hasher(h) == *d)
    }

    /// Files older than `age` that interrupted uploads left behind: temporary files, and blobs
    /// for which `referenced` says no row exists. Returns how many were removed.
    async fn sweep_local<'a>(
        &self,
        age: Duration,
        referenced: &(dyn Fn(BlobDigest) -> Referenced<'a> + Send + Sync),
    ) -> std::io::Result<usize> {
        let cutoff = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let old = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff)
        };
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join("tmp"))?.flatten() {
            if old(&entry.path()) && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        let mut candidates = Vec::new();
        for l1 in std::fs::read_dir(&self.root)?.flatten() {
            if l1.file_name() == "tmp" || !l1.path().is_dir() {
                continue;
            }
            for l2 in std::fs::read_dir(l1.path())?.flatten() {
                for f in std::fs::read_dir(l2.path())?.flatten() {
                    let name = f.file_name();
                    if let Some(d) = name.to_str().and_then(BlobDigest::parse) {
                        if old(&f.path()) {
                            candidates.push(d);
                        }
                    }
                }
            }
        }
        for d in candidates {
            let _exclusive = self.guard.write().await;
            // Re-check age under the guard: intake may have re-used the blob meanwhile.
            if old(&self.path_of(&d))
                && !referenced(d.clone()).await
                && std::fs::remove_file(self.path_of(&d)).is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobs {
    fn temp_file(&self) -> std::io::Result<tempfile::NamedTempFile> {
        self.new_temp()
    }

    async fn intake_guard(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.guard_read().await
    }

    async fn commit(&self, temp: tempfile::NamedTempFile, d: &BlobDigest) -> std::io::Result<()> {
        self.commit_local(temp, d).await
    }

    async fn open_blob(
        &self,
        d: &BlobDigest,
    ) -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        Ok(Box::new(self.open_file(d).await?))
    }

    async fn verify(&self, d: &BlobDigest) -> std::io::Result<bool> {
        self.verify_local(d).await
    }

    async fn sweep<'a>(
        &self,
        age: Duration,
        referenced: &(dyn Fn(BlobDigest) -> Referenced<'a> + Send + Sync),
    ) -> std::io::Result<usize> {
        self.sweep_local(age, referenced).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn digests_must_be_64_lower_hex_so_paths_cannot_escape() {
        assert!(BlobDigest::parse(&"a".repeat(64)).is_some());
        for bad in [
            "../etc/passwd",
            &"A".repeat(64),
            &"a".repeat(63),
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(BlobDigest::parse(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn commit_stores_same_bytes_once_and_sweep_removes_only_unreferenced_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobs::open(dir.path()).unwrap();
        let put = |bytes: &[u8]| {
            let mut t = store.temp_file().unwrap();
            t.write_all(bytes).unwrap();
            let d = BlobDigest::from_hasher(Sha256::new_with_prefix(bytes));
            (t, d)
        };
        let (t1, d1) = put(b"evidence");
        let (t2, d2) = put(b"evidence");
        let (t3, d3) = put(b"orphan");
        assert_eq!(d1, d2);
        store.commit(t1, &d1).await.unwrap();
        store.commit(t2, &d2).await.unwrap();
        store.commit(t3, &d3).await.unwrap();
        assert!(store.verify(&d1).await.unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        // Nothing is old yet.
        let keep = d1.clone();
        fn kept<'a>(
            keep: &'a BlobDigest,
        ) -> impl Fn(BlobDigest) -> Referenced<'a> + Send + Sync + 'a {
            move |d| {
                let k = keep.clone();
                Box::pin(async move { d == k })
            }
        }
        let is_kept = kept(&keep);
        let n = store
            .sweep(Duration::from_secs(3600), &is_kept)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let n = store.sweep(Duration::ZERO, &is_kept).await.unwrap();
        assert_eq!(n, 1);
        assert!(store.path_of(&d1).exists());
        assert!(!store.path_of(&d3).exists());
    }
}
