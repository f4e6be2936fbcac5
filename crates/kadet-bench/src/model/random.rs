//! Random names and identifiers drawn from the cluster RNG: UUIDs,
//! Kubernetes-style name suffixes, hex strings, and the leaking helper that
//! turns them into the `'static` strings the model is made of.

use rand::Rng;
use rand_pcg::Pcg64Mcg;

use crate::json::uuid_into;

/// The generator's RNG. Its output for a seed is part of the corpus format:
/// every draw in the model and the generator happens in a fixed order.
pub type Rng64 = Pcg64Mcg;

/// Leaks a string so it can live in the static pools.
pub fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A random UUID string from the RNG.
pub fn uuid(rng: &mut Rng64) -> String {
    let mut b = [0u8; 36];
    uuid_into(&mut b, rng.random(), rng.random());
    String::from_utf8(b.to_vec()).unwrap()
}

const K8S_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Characters of `{lower:N}` in templates, and of GKE node names.
pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEXCH: &[u8] = b"0123456789abcdef";
/// Characters of `{upper:N}` in templates (the random part of access key ids).
pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `len` random characters of `alphabet`.
pub fn rand_from(rng: &mut Rng64, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Kubernetes-style random suffix (pod-template-hash, pod name suffix).
pub fn k8s_suffix(rng: &mut Rng64, len: usize) -> String {
    rand_from(rng, K8S_ALPHABET, len)
}

/// `len` random lowercase hex digits.
pub fn hexstr(rng: &mut Rng64, len: usize) -> String {
    rand_from(rng, HEXCH, len)
}
