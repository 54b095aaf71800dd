//! The decoded, resized training images, kept once per experiment as compact planar CHW bytes
//! (3·S·S bytes per image), so that no epoch decodes a file.

use std::path::PathBuf;

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
        let n = paths.len();
        let k = 3 * (side * side) as usize;
        let slots = dataset::par_map(n, progress, |i| {
            dataset::load_rgb8(&paths[i]).map(|im| dataset::decode::to_chw_u8(&im, side))
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
}
