//! The bundled demo: synthetic single-cell images (painted by [`render`]) written as an image
//! folder and imported into a project, so leukolens works with no download.

mod render;

use std::io;
use std::path::{Path, PathBuf};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbImage};

pub use render::{DEMO_CLASSES, DEMO_SIZE, render_cell};

/// Folder-safe names of the ten demo classes, indexed by class.
pub const DEMO_DIRS: [&str; 10] = [
    "lymphoblast",
    "typical_lymphocyte",
    "atypical_lymphocyte",
    "monocyte",
    "segmented_neutrophil",
    "band_neutrophil",
    "eosinophil",
    "basophil",
    "thrombocyte",
    "smudge_cell",
];

/// Writes `per_class` images of every class as PNG files in an image-folder layout,
/// `dir/<DEMO_DIRS[c]>/<DEMO_DIRS[c]>_<NNN>.png`, and returns `(path, class)` pairs in
/// class-major order.
///
/// The seed of each image is derived from `(seed, class, index)` only, so image `i` of a
/// class is the same whatever `per_class` is. Rendering and encoding run on two threads.
pub fn write_demo_images(
    dir: &Path,
    per_class: usize,
    size: u32,
    seed: u64,
) -> io::Result<Vec<(PathBuf, usize)>> {
    let mut jobs = Vec::with_capacity(per_class * DEMO_DIRS.len());
    for (class, name) in DEMO_DIRS.iter().enumerate() {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub)?;
        for index in 0..per_class {
            let path = sub.join(format!("{name}_{index:03}.png"));
            jobs.push((path, class, image_seed(seed, class, index)));
        }
    }
    let threads = jobs.len().clamp(1, 2);
    std::thread::scope(|scope| -> io::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let jobs = &jobs;
                scope.spawn(move || -> io::Result<()> {
                    for (path, class, img_seed) in jobs.iter().skip(t).step_by(threads) {
                        let img = render_cell(*class, size, *img_seed);
                        write_png(path, &img)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| io::Error::other("demo image worker panicked"))??;
        }
        Ok(())
    })?;
    Ok(jobs.into_iter().map(|(p, c, _)| (p, c)).collect())
}

fn write_png(path: &Path, img: &RgbImage) -> io::Result<()> {
    let mut buf = Vec::with_capacity(img.as_raw().len() / 2);
    PngEncoder::new_with_quality(&mut buf, CompressionType::Fast, FilterType::Sub)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(io::Error::other)?;
    std::fs::write(path, buf)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of image `index` of `class` in a set generated with `seed`.
fn image_seed(seed: u64, class: usize, index: usize) -> u64 {
    splitmix64(splitmix64(seed ^ splitmix64(class as u64)) ^ index as u64)
}

/// Creates the demo project in `dir` (images in `dir/images`, project `dir/demo.ron`) unless it
/// exists; returns the project file. 60 cells per class, 257 px, seed 2021.
pub fn ensure_demo_project(dir: &Path) -> Result<PathBuf, String> {
    let project = dir.join("demo.ron");
    if project.is_file() {
        return Ok(project);
    }
    create_demo_project(dir, 60, DEMO_SIZE, 2021)
}

/// Smallest and largest side of the demo images, and most cells per class.
pub const MIN_DEMO_SIZE: u32 = 16;
pub const MAX_DEMO_SIZE: u32 = 2048;
pub const MAX_DEMO_PER_CLASS: usize = 10_000;

/// The file that marks `images/` as the generator's own (hidden: import skips it).
const DEMO_MARKER: &str = ".leukolens-demo";

/// (Re)creates the demo project in `dir`; returns the project file. An `images` folder already
/// in `dir` is replaced only if the generator made it.
pub fn create_demo_project(
    dir: &Path,
    per_class: usize,
    size: u32,
    seed: u64,
) -> Result<PathBuf, String> {
    if !(MIN_DEMO_SIZE..=MAX_DEMO_SIZE).contains(&size) {
        return Err(format!(
            "the demo images' size must be {MIN_DEMO_SIZE}–{MAX_DEMO_SIZE} px ({size} given)"
        ));
    }
    if per_class == 0 || per_class > MAX_DEMO_PER_CLASS {
        return Err(format!(
            "the demo has 1–{MAX_DEMO_PER_CLASS} cells per class ({per_class} given)"
        ));
    }
    let project_path = dir.join("demo.ron");
    let images = dir.join("images");
    let marker = images.join(DEMO_MARKER);
    if images.exists() {
        // Only a folder this function wrote is replaced: anything else there is the user's.
        if !marker.is_file() && !older_demo_images(dir, &images) {
            return Err(format!(
                "{} exists and was not made by the demo generator; it is left as it is: choose \
                 another output folder",
                images.display()
            ));
        }
        std::fs::remove_dir_all(&images)
            .map_err(|e| format!("cannot remove {}: {e}", images.display()))?;
    }
    std::fs::create_dir_all(&images)
        .and_then(|()| std::fs::write(&marker, "images generated by `leukolens demo`\n"))
        .map_err(|e| format!("cannot create {}: {e}", images.display()))?;
    write_demo_images(&images, per_class, size, seed)
        .map_err(|e| format!("cannot write the demo images to {}: {e}", images.display()))?;
    import_image_folder(&images, &project_path, "demo", seed)?;
    Ok(project_path)
}

/// A demo made before the marker existed: `demo.ron` beside `images/`, which holds only the
/// demo's class folders.
fn older_demo_images(dir: &Path, images: &Path) -> bool {
    dir.join("demo.ron").is_file()
        && std::fs::read_dir(images).is_ok_and(|rd| {
            rd.flatten().all(|e| {
                e.file_type().is_ok_and(|t| t.is_dir())
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| DEMO_DIRS.contains(&n))
            })
        })
}

/// Imports an image folder into a new project file. A project file already there is kept as
/// its backup (`<file>.bak`), and its journal as `<journal>.bak`.
pub fn import_image_folder(
    images: &Path,
    project_path: &Path,
    name: &str,
    seed: u64,
) -> Result<(), String> {
    let outcome = crate::dataset::import(
        images,
        Some(crate::dataset::Layout::ImageFolder),
        crate::taxonomy::Taxonomy::default_allidb(),
        &|_, _| {},
    )
    .map_err(|e| e.to_string())?;
    if project_path.exists() {
        let backup = crate::project::backup_path(project_path);
        std::fs::rename(project_path, &backup).map_err(|e| {
            format!(
                "cannot keep {} as {}: {e}",
                project_path.display(),
                backup.display()
            )
        })?;
    }
    let project = crate::project::Project::from_import(name, project_path, &outcome, seed);
    crate::project::Workspace::create(project_path, project).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_image_other_seed_other_image() {
        for class in 0..10 {
            let a = render_cell(class, 96, 42);
            let b = render_cell(class, 96, 42);
            let c = render_cell(class, 96, 43);
            assert_eq!(a.as_raw(), b.as_raw(), "class {class}");
            assert_ne!(a.as_raw(), c.as_raw(), "class {class}");
        }
    }

    #[test]
    fn image_sizes() {
        let img = render_cell(0, DEMO_SIZE, 1);
        assert_eq!(img.dimensions(), (257, 257));
        for size in [16, 17, 31, 64, 100] {
            for class in 0..10 {
                let img = render_cell(class, size, 7);
                assert_eq!(img.dimensions(), (size, size));
            }
        }
        assert_eq!(render_cell(12, 16, 0).dimensions(), (16, 16));
    }

    /// Mean over a few seeds of the fractions of (dark purple, orange-red, blue) pixels in
    /// the central region.
    fn fractions(class: usize) -> [f64; 3] {
        let size = 128u32;
        let seeds = 8;
        let mut sums = [0.0f64; 3];
        for seed in 0..seeds {
            let img = render_cell(class, size, 1000 + seed);
            let (lo, hi) = (size / 4, 3 * size / 4);
            let mut counts = [0usize; 3];
            let mut total = 0usize;
            for y in lo..hi {
                for x in lo..hi {
                    let [r, g, b] = img.get_pixel(x, y).0.map(i32::from);
                    total += 1;
                    if r + g + b < 330 && b > g + 15 {
                        counts[0] += 1;
                    }
                    if r > 170 && g < 140 && b < 120 && r - g > 70 {
                        counts[1] += 1;
                    }
                    if b > r + 25 && b > 150 {
                        counts[2] += 1;
                    }
                }
            }
            for i in 0..3 {
                sums[i] += counts[i] as f64 / total as f64;
            }
        }
        sums.map(|v| v / seeds as f64)
    }

    #[test]
    fn class_statistics_follow_morphology() {
        let f: Vec<[f64; 3]> = (0..10).map(fractions).collect();
        // Dense dark nucleus versus a few small platelets.
        assert!(f[1][0] > f[8][0] + 0.05, "{:?} vs {:?}", f[1], f[8]);
        // Dark granules make the basophil darker than a neutrophil.
        assert!(f[7][0] > f[4][0], "{:?} vs {:?}", f[7], f[4]);
        // Orange-red granules only in eosinophils.
        for (class, fc) in f.iter().enumerate() {
            if class != 6 {
                assert!(
                    f[6][1] > fc[1] + 0.05,
                    "class {class}: {fc:?} vs {:?}",
                    f[6]
                );
            }
        }
        // Blue cytoplasm: atypical lymphocytes versus neutrophils.
        assert!(f[2][2] > f[4][2] + 0.05, "{:?} vs {:?}", f[2], f[4]);
    }

    /// The generator replaces only its own images: a user's `images/` folder in the output is
    /// refused and left untouched; absurd sizes are errors, not allocation failures.
    #[test]
    fn the_demo_replaces_only_its_own_images() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join("mine");
        std::fs::create_dir_all(mine.join("images/precious")).unwrap();
        std::fs::write(mine.join("images/precious/note.txt"), "keep").unwrap();
        let err = create_demo_project(&mine, 1, 33, 1).unwrap_err();
        assert!(err.contains("not made by the demo generator"), "{err}");
        assert_eq!(
            std::fs::read_to_string(mine.join("images/precious/note.txt")).unwrap(),
            "keep"
        );

        let demo = dir.path().join("demo");
        let project = create_demo_project(&demo, 1, 33, 1).unwrap();
        let first = crate::project::Project::load(&project)
            .unwrap()
            .images
            .len();
        assert_eq!(first, DEMO_DIRS.len());
        // Again, with 2 per class: its own folder is replaced, nothing is left over.
        create_demo_project(&demo, 2, 33, 1).unwrap();
        assert_eq!(
            crate::project::Project::load(&project)
                .unwrap()
                .images
                .len(),
            2 * DEMO_DIRS.len()
        );

        for (per_class, size) in [(1, u32::MAX), (1, 100_000), (1, 8), (0, 33), (1 << 40, 33)] {
            let err = create_demo_project(&dir.path().join("x"), per_class, size, 1).unwrap_err();
            assert!(err.contains("given"), "{err}");
        }
    }

    #[test]
    fn writes_image_folder_layout() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "leukolens-demo-test-{}-{nanos}",
            std::process::id()
        ));
        let out = write_demo_images(&dir, 3, 48, 5).unwrap();
        assert_eq!(out.len(), 30);
        for (class, name) in DEMO_DIRS.iter().enumerate() {
            let files = std::fs::read_dir(dir.join(name)).unwrap().count();
            assert_eq!(files, 3, "{name}");
            assert!(out.iter().filter(|(_, c)| *c == class).count() == 3);
        }
        for (path, class) in &out {
            assert!(path.is_file());
            let parent = path.parent().and_then(|p| p.file_name()).unwrap();
            assert_eq!(parent, DEMO_DIRS[*class]);
        }
        // Image i does not depend on per_class.
        let (path, class) = &out[4];
        let decoded = image::open(path).unwrap().to_rgb8();
        let again = render_cell(*class, 48, image_seed(5, *class, 1));
        assert_eq!(decoded.as_raw(), again.as_raw());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
