//! The decoded, resized training images, kept once per experiment as compact planar CHW bytes
//! (3·S·S bytes per image), so that no epoch decodes a file. A sweep also keeps them on disk
//! ([`ImageCache::load_cached`]), so that resuming it decodes nothing either.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::dataset::{self, DecodeError};

/// Images of one size, in memory.
#[derive(Clone, Debug, Default)]
pub struct ImageCache {
    side: u32,
    n: usize,
    data: Vec<u8>,
}

impl ImageCache {
    /// Side of every image in pixels.
    pub fn side(&self) -> u32 {
        self.side
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// One image, planar CHW bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        let k = 3 * (self.side * self.side) as usize;
        &self.data[i * k..(i + 1) * k]
    }

    /// Builds a cache from already decoded images.
    pub fn from_images(images: &[image::RgbImage], side: u32) -> Self {
        let mut data = Vec::with_capacity(images.len() * 3 * (side * side) as usize);
        for im in images {
            data.extend(dataset::decode::to_chw_u8(im, side));
        }
        Self {
            side,
            n: images.len(),
            data,
        }
    }

    /// Decodes and resizes files on all cores. A file that fails is reported by its position;
    /// the caller decides what to do (the cache then has no entry for it, and `kept` maps cache
    /// positions to input positions).
    pub fn load(
        paths: &[PathBuf],
        side: u32,
        progress: dataset::Progress<'_>,
    ) -> (Self, Vec<usize>, Vec<(usize, DecodeError)>) {
        Self::load_checked(paths, None, side, progress)
    }

    /// [`ImageCache::load`], and with `hashes` (the project's content hash of each path) every
    /// file is checked against its hash first: a file whose content changed since import fails
    /// with [`DecodeError::Changed`] instead of being used.
    pub fn load_checked(
        paths: &[PathBuf],
        hashes: Option<&[String]>,
        side: u32,
        progress: dataset::Progress<'_>,
    ) -> (Self, Vec<usize>, Vec<(usize, DecodeError)>) {
        let n = paths.len();
        let k = 3 * (side * side) as usize;
        let slots = dataset::par_map(n, progress, |i| {
            match hashes.and_then(|h| h.get(i)) {
                Some(h) => dataset::decode::load_rgb8_checked(&paths[i], h),
                None => dataset::load_rgb8(&paths[i]),
            }
            .map(|im| dataset::decode::to_chw_u8(&im, side))
        });
        let mut data = Vec::with_capacity(n * k);
        let mut kept = Vec::with_capacity(n);
        let mut failed = Vec::new();
        for (i, slot) in slots.into_iter().enumerate() {
            match slot {
                Some(Ok(bytes)) => {
                    data.extend(bytes);
                    kept.push(i);
                }
                Some(Err(e)) => failed.push((i, e)),
                None => failed.push((i, DecodeError::Corrupt("not decoded".into()))),
            }
        }
        (
            Self {
                side,
                n: kept.len(),
                data,
            },
            kept,
            failed,
        )
    }

    /// Like [`ImageCache::load`], but kept in `file`: when `file` holds the images for these
    /// `keys` (one content hash per path) at this side, they are read from it and nothing is
    /// decoded; otherwise they are decoded, each file checked against its key first
    /// ([`ImageCache::load_checked`]), and, when every file decoded and the cache is at most
    /// [`MAX_DISK_CACHE`] bytes, written to `file` (atomically) for the next time.
    pub fn load_cached(
        file: &Path,
        paths: &[PathBuf],
        keys: &[String],
        side: u32,
        progress: dataset::Progress<'_>,
    ) -> (Self, Vec<usize>, Vec<(usize, DecodeError)>) {
        let key = cache_key(keys, side);
        if keys.len() == paths.len()
            && let Some(c) = read_cache(file, &key, side, paths.len())
        {
            let kept = (0..c.n).collect();
            return (c, kept, Vec::new());
        }
        let checked = (keys.len() == paths.len()).then_some(keys);
        let (cache, kept, failed) = Self::load_checked(paths, checked, side, progress);
        if failed.is_empty()
            && keys.len() == paths.len()
            && cache.data.len() as u64 <= MAX_DISK_CACHE
        {
            // A cache that cannot be written only costs decoding next time.
            if let Err(e) = write_cache(file, &key, &cache) {
                tracing::warn!("could not write the image cache {}: {e}", file.display());
            }
        }
        (cache, kept, failed)
    }
}

/// Largest image cache written to disk (bytes).
pub const MAX_DISK_CACHE: u64 = 4 << 30;

const MAGIC: &[u8; 8] = b"LLCACHE1";

fn cache_key(keys: &[String], side: u32) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&side.to_le_bytes());
    h.update(&(keys.len() as u64).to_le_bytes());
    for k in keys {
        h.update(&(k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
    }
    *h.finalize().as_bytes()
}

fn read_cache(file: &Path, key: &[u8; 32], side: u32, n: usize) -> Option<ImageCache> {
    let mut f = std::fs::File::open(file).ok()?;
    let mut head = [0u8; 8 + 32 + 4 + 8];
    f.read_exact(&mut head).ok()?;
    if &head[..8] != MAGIC || &head[8..40] != key {
        return None;
    }
    let s = u32::from_le_bytes(head[40..44].try_into().ok()?);
    let count = u64::from_le_bytes(head[44..52].try_into().ok()?) as usize;
    if s != side || count != n {
        return None;
    }
    let len = n.checked_mul(3 * (side as usize) * (side as usize))?;
    let mut data = vec![0u8; len];
    f.read_exact(&mut data).ok()?;
    // Nothing may follow: a longer file is not ours.
    if f.read(&mut [0u8; 1]).ok()? != 0 {
        return None;
    }
    Some(ImageCache { side, n, data })
}

fn write_cache(file: &Path, key: &[u8; 32], c: &ImageCache) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(52 + c.data.len());
    bytes.write_all(MAGIC)?;
    bytes.write_all(key)?;
    bytes.write_all(&c.side.to_le_bytes())?;
    bytes.write_all(&(c.n as u64).to_le_bytes())?;
    bytes.write_all(&c.data)?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::project::store::atomic_write(file, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_cache_is_reused_only_for_the_same_images_and_side() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..3)
            .map(|k| {
                let p = dir.path().join(format!("{k}.png"));
                crate::demo::render_cell(k, 40, k as u64).save(&p).unwrap();
                p
            })
            .collect();
        let keys: Vec<String> = paths
            .iter()
            .map(|p| dataset::content_hash(&std::fs::read(p).unwrap()))
            .collect();
        let file = dir.path().join("cache/images.bin");
        let (a, _, failed) = ImageCache::load_cached(&file, &paths, &keys, 32, &|_, _| {});
        assert!(failed.is_empty() && file.is_file());
        // The files are gone: the same images and side come from the cache alone.
        for p in &paths {
            std::fs::remove_file(p).unwrap();
        }
        let (b, kept, failed) = ImageCache::load_cached(&file, &paths, &keys, 32, &|_, _| {});
        assert!(failed.is_empty());
        assert_eq!(kept, vec![0, 1, 2]);
        assert_eq!(a.data, b.data);
        // Another image (hash) or another side is not served from it.
        let mut other = keys.clone();
        other[1] = "changed".into();
        let (_, _, failed) = ImageCache::load_cached(&file, &paths, &other, 32, &|_, _| {});
        assert_eq!(
            failed.len(),
            3,
            "decoding was attempted (and the files are gone)"
        );
        let (_, _, failed) = ImageCache::load_cached(&file, &paths, &keys, 36, &|_, _| {});
        assert_eq!(failed.len(), 3);
        // A damaged file is not used either.
        let len = std::fs::metadata(&file).unwrap().len();
        std::fs::write(&file, vec![0u8; len as usize]).unwrap();
        let (_, _, failed) = ImageCache::load_cached(&file, &paths, &keys, 32, &|_, _| {});
        assert_eq!(failed.len(), 3);
    }
}

#[cfg(test)]
mod checked_tests {
    use super::*;

    #[test]
    fn a_file_whose_content_changed_since_import_is_reported_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..2)
            .map(|k| {
                let p = dir.path().join(format!("{k}.png"));
                crate::demo::render_cell(k, 40, k as u64).save(&p).unwrap();
                p
            })
            .collect();
        let hashes: Vec<String> = paths
            .iter()
            .map(|p| dataset::content_hash(&std::fs::read(p).unwrap()))
            .collect();
        // The second file is swapped for another image after import.
        crate::demo::render_cell(5, 40, 9).save(&paths[1]).unwrap();
        let (cache, kept, failed) = ImageCache::load_checked(&paths, Some(&hashes), 32, &|_, _| {});
        assert_eq!((cache.len(), kept), (1, vec![0]));
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, 1);
        assert!(matches!(failed[0].1, DecodeError::Changed));
        // The sweep's cached loading checks the same way and writes no cache.
        let file = dir.path().join("c.bin");
        let (_, _, failed) = ImageCache::load_cached(&file, &paths, &hashes, 32, &|_, _| {});
        assert!(matches!(failed[..], [(1, DecodeError::Changed)]));
        assert!(!file.exists());
    }
}
