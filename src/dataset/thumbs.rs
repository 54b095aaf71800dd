//! Thumbnails for the gallery, cached on disk in the project folder
//! (`<project stem>.thumbs/<hash>-<side>.png`), so a second opening decodes no full image.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::DecodeError;
use super::decode::{decode_rgb8, read_limited};

/// The on-disk thumbnail cache of one project.
#[derive(Clone, Debug)]
pub struct ThumbStore {
    dir: PathBuf,
}

impl ThumbStore {
    /// The cache that belongs to a project file.
    pub fn for_project(project_path: &Path) -> Self {
        let stem = project_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into());
        Self {
            dir: crate::project::store::project_dir(project_path).join(format!("{stem}.thumbs")),
        }
    }

    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the thumbnail of an image with this content hash and side lives.
    pub fn path(&self, hash: &str, side: u32) -> PathBuf {
        let safe: String = hash.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        self.dir.join(format!("{safe}-{side}.png"))
    }

    /// The thumbnail (longest side = `side`), from the cache or made from `source` and cached.
    /// A cache write failure is not an error (the thumbnail is still returned).
    pub fn load_or_make(
        &self,
        hash: &str,
        source: &Path,
        side: u32,
    ) -> Result<RgbImage, DecodeError> {
        let cached = self.path(hash, side);
        if let Ok(bytes) = std::fs::read(&cached)
            && let Ok(img) = decode_rgb8(&bytes)
        {
            return Ok(img);
        }
        let full = decode_rgb8(&read_limited(source)?)?;
        let thumb = make_thumbnail(&full, side);
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
            if thumb
                .save_with_format(&tmp, image::ImageFormat::Png)
                .is_ok()
            {
                let _ = std::fs::rename(&tmp, &cached);
            } else {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(thumb)
    }
}

/// Scales an image so that its longest side is `side` (never enlarges), keeping the aspect.
pub fn make_thumbnail(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let longest = w.max(h).max(1);
    if longest <= side {
        return img.clone();
    }
    let scale = side as f64 / longest as f64;
    let nw = ((w as f64 * scale).round() as u32).max(1);
    let nh = ((h as f64 * scale).round() as u32).max(1);
    image::imageops::thumbnail(img, nw, nh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_are_cached_and_keep_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("cell.png");
        RgbImage::from_pixel(300, 150, image::Rgb([200, 10, 10]))
            .save(&src)
            .unwrap();
        let store = ThumbStore::for_project(&dir.path().join("p.ron"));
        let t = store.load_or_make("abc123", &src, 64).unwrap();
        assert_eq!(t.dimensions(), (64, 32));
        assert!(store.path("abc123", 64).exists());
        // Served from the cache even when the source is gone.
        std::fs::remove_file(&src).unwrap();
        let again = store.load_or_make("abc123", &src, 64).unwrap();
        assert_eq!(again, t);
        assert!(store.load_or_make("other", &src, 64).is_err());
    }
}
