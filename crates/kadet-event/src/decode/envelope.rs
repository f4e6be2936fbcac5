//! Envelopes around audit records, opened the same way wherever they
//! arrive: base64 (Kinesis and Firehose records), gzip (Firehose, CloudWatch
//! Logs subscriptions, HTTP bodies), and the batch containers whose array
//! holds the events. Every intake (files, `serve`'s endpoints, the cloud
//! sources) opens them here, with a bound on what they decompress to.

use base64::Engine;
use std::fmt;
use std::io::Read;

/// The members that hold a batch's events, by container: an `EventList`'s
/// `items`, a CloudWatch Logs payload's `logEvents`, an Azure diagnostic
/// batch's `records`.
pub const BATCH_FIELDS: [&str; 3] = ["items", "logEvents", "records"];

/// Why an envelope could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The data is not base64.
    NotBase64(String),
    /// The data starts like gzip but does not decompress.
    BadGzip(String),
    /// It decompresses to more than the limit (in bytes).
    TooLarge(usize),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::NotBase64(e) => write!(f, "data is not base64: {e}"),
            EnvelopeError::BadGzip(e) => write!(f, "bad gzip data: {e}"),
            EnvelopeError::TooLarge(limit) => {
                write!(f, "more than {limit} bytes once decompressed")
            }
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// The gzip magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompresses gzip (every member) into at most `limit` bytes.
pub fn gunzip_limited(data: &[u8], limit: usize) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| EnvelopeError::BadGzip(e.to_string()))?;
    if out.len() > limit {
        return Err(EnvelopeError::TooLarge(limit));
    }
    Ok(out)
}

/// Opens a base64 record as Kinesis and Firehose deliver them: decoded,
/// then decompressed when it is gzip (CloudWatch Logs subscription
/// payloads are), into at most `limit` bytes.
pub fn open_base64(data: &[u8], limit: usize) -> Result<Vec<u8>, EnvelopeError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data.trim_ascii())
        .map_err(|e| EnvelopeError::NotBase64(e.to_string()))?;
    if raw.starts_with(&GZIP_MAGIC) {
        return gunzip_limited(&raw, limit);
    }
    if raw.len() > limit {
        return Err(EnvelopeError::TooLarge(limit));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn base64_gzip_and_plain_base64_open() {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        assert_eq!(
            open_base64(b64(&gzip(b"{}")).as_bytes(), 10).unwrap(),
            b"{}"
        );
        assert_eq!(open_base64(b64(b"{}").as_bytes(), 10).unwrap(), b"{}");
        assert!(matches!(
            open_base64(b"!!", 10),
            Err(EnvelopeError::NotBase64(_))
        ));
        assert_eq!(
            open_base64(b64(&gzip(&[b' '; 100])).as_bytes(), 10),
            Err(EnvelopeError::TooLarge(10))
        );
        let mut bad = gzip(b"{}");
        bad.truncate(12);
        assert!(matches!(
            gunzip_limited(&bad, 10),
            Err(EnvelopeError::BadGzip(_))
        ));
    }
}
