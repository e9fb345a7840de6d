//! Evidence uploads: streamed to a temporary file while hashed and sniffed, bounded as they
//! arrive, then moved into content-addressed storage. Memory use does not depend on file size.

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::sniff::{EvidenceType, Sniffer};
use super::ReportError;
use crate::storage::blobs::{BlobDigest, BlobStore};

#[derive(Clone, Copy, Debug)]
pub struct AttachmentLimits {
    pub max_count: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

/// What one request has used so far.
#[derive(Debug)]
pub struct UploadBudget {
    limits: AttachmentLimits,
    count: usize,
    total: u64,
}

impl UploadBudget {
    pub fn new(limits: AttachmentLimits) -> UploadBudget {
        UploadBudget {
            limits,
            count: 0,
            total: 0,
        }
    }
}

/// A file being received.
pub struct AttachmentWriter {
    temp: tempfile::NamedTempFile,
    file: tokio::fs::File,
    hasher: Sha256,
    sniffer: Sniffer,
    size: u64,
    filename: String,
}

/// A complete, fsync'd upload waiting for its report to commit.
pub struct StagedAttachment {
    pub(super) temp: tempfile::NamedTempFile,
    pub digest: BlobDigest,
    pub size: u64,
    pub kind: EvidenceType,
    pub filename: String,
}

impl AttachmentWriter {
    /// Starts a new file, refusing it at once if the report already has the maximum count.
    pub fn start(
        blobs: &dyn BlobStore,
        budget: &mut UploadBudget,
        raw_filename: Option<&str>,
    ) -> Result<AttachmentWriter, ReportError> {
        if budget.count >= budget.limits.max_count {
            return Err(ReportError::TooManyAttachments {
                max: budget.limits.max_count,
            });
        }
        budget.count += 1;
        let temp = blobs.temp_file()?;
        let file = tokio::fs::File::from_std(temp.as_file().try_clone()?);
        Ok(AttachmentWriter {
            temp,
            file,
            hasher: Sha256::new(),
            sniffer: Sniffer::new(),
            size: 0,
            filename: sanitise_filename(raw_filename.unwrap_or("")),
        })
    }

    /// Appends a chunk. Fails as soon as a limit is crossed or the head of the file proves it
    /// will be refused, so the server stops reading an upload it cannot keep.
    pub async fn write(
        &mut self,
        budget: &mut UploadBudget,
        chunk: &[u8],
    ) -> Result<(), ReportError> {
        let n = chunk.len() as u64;
        if self.size + n > budget.limits.max_file_bytes {
            return Err(ReportError::AttachmentTooLarge {
                max: budget.limits.max_file_bytes,
            });
        }
        if budget.total + n > budget.limits.max_total_bytes {
            return Err(ReportError::ReportTooLarge {
                max: budget.limits.max_total_bytes,
            });
        }
        self.size += n;
        budget.total += n;
        self.hasher.update(chunk);
        self.sniffer.update(chunk);
        if let Some(Err(e)) = self.sniffer.early_verdict() {
            return Err(ReportError::UnsupportedType(e.to_string()));
        }
        self.file.write_all(chunk).await?;
        Ok(())
    }

    /// Completes the file: final type check, then fsync so the bytes are durable before any
    /// database row points at them.
    pub async fn finish(mut self) -> Result<StagedAttachment, ReportError> {
        let kind = self
            .sniffer
            .finish()
            .map_err(|e| ReportError::UnsupportedType(e.to_string()))?;
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(StagedAttachment {
            temp: self.temp,
            digest: BlobDigest::from_hasher(self.hasher),
            size: self.size,
            kind,
            filename: self.filename,
        })
    }
}

/// Keeps a client's file name only as display metadata: last path component, no control or
/// path characters, bounded length. It is never used to build a path.
pub fn sanitise_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::sanitise_filename;

    #[test]
    fn file_names_lose_paths_and_dangerous_characters() {
        let cases = [
            ("../../etc/passwd", "passwd"),
            ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
            ("screenshot 1.png", "screenshot 1.png"),
            ("聊天记录.txt", "聊天记录.txt"),
            (".htaccess", "htaccess"),
            ("a\u{0}b\nc.png", "abc.png"),
            ("<script>.png", "_script_.png"),
            ("", "attachment"),
            ("../", "attachment"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitise_filename(raw), want, "{raw:?}");
        }
        assert_eq!(sanitise_filename(&"a".repeat(500)).len(), 100);
    }
}
